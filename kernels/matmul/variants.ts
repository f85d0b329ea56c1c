/**
 * The matmul kernel's variants: the template's tile parameters (`MatmulVariant`), the named
 * variants, and which one an adapter and a product's shape get (`pickMatmulVariant`,
 * `packedOperand`). The template itself is kernels/matmul/template.ts; docs/benchmarks.md has
 * the measurements behind the choices.
 */
import { runtime, type AdapterDescription } from '../runtime.js';

/**
 * The tile parameters of the matmul template. A type alias rather than an interface so that it is
 * plain spec data (`SpecValue`), serialised into the pipeline key.
 */
export type MatmulVariant = {
  /** Output rows per invocation. */
  rows: number;
  /** Output columns per invocation (a multiple of 4: accumulators are vec4 along N). */
  cols: number;
  /** Invocations per workgroup along M. */
  wgRows: number;
  /** Invocations per workgroup along N. */
  wgCols: number;
  /** Vector loads of four elements where an operand's layout allows them. */
  vec4: boolean;
  /** Depth along K of the workgroup-memory tiles; 0 for the register-only path. */
  sharedK: number;
  /**
   * Register path only: lane l of each subgroup loads A row l of the tile and `subgroupBroadcast`
   * shares it (needs the `subgroups` feature and `wgCols` equal to the adapter's fixed subgroup size).
   */
  broadcastA?: boolean;
  /** Register path only: B is first packed into an rgba32float texture array (`packMatmulB`) and read from it. */
  textureB?: boolean;
};

/**
 * Named variants: what `pickMatmulVariant` chooses from (tests force each one). The software
 * tiles were chosen by measurement on lavapipe (docs/benchmarks.md): Mesa 25.0's lavapipe
 * compiles every storage-buffer load inside a loop into a per-lane scalar loop, so loads, not
 * arithmetic, bound the speed, and larger tiles (fewer loads per FMA) stop paying off once the
 * unrolled loop body outgrows the instruction cache and the pipeline compile takes seconds.
 */
export const MATMUL_VARIANTS = {
  /**
   * CPU adapters with subgroups, products of at least `PACKED_MIN_ROWS` rows: 16×8 outputs per
   * invocation, A rows shared by subgroup broadcasts, B packed into a texture (2.5-3× the buffer
   * path on lavapipe at n = 1024; docs/benchmarks.md). Only at `PACKED_SUBGROUP_SIZE` lanes.
   */
  softwarePacked: { rows: 16, cols: 8, wgRows: 1, wgCols: 8, vec4: true, sharedK: 0, broadcastA: true, textureB: true },
  /** CPU adapters (lavapipe): 8×4 outputs per invocation, 8 invocations (one SIMD vector) per workgroup. */
  software: { rows: 8, cols: 4, wgRows: 1, wgCols: 8, vec4: true, sharedK: 0 },
  /** CPU adapters, 2-4 rows (after batch dims are folded into rows): no work on clamped rows. */
  softwareFewRows: { rows: 4, cols: 4, wgRows: 1, wgCols: 8, vec4: true, sharedK: 0 },
  /** CPU adapters, a single row (a matrix-vector product, such as the last position's LM head). */
  softwareOneRow: { rows: 1, cols: 4, wgRows: 1, wgCols: 8, vec4: true, sharedK: 0 },
  /** GPUs: 64×64 workgroup tiles staged in shared memory, 4×4 outputs per invocation. */
  hardware: { rows: 4, cols: 4, wgRows: 16, wgCols: 16, vec4: true, sharedK: 16 },
  /** GPUs, a single row: no 64-row tile of which 63 rows would be clamped copies. */
  hardwareOneRow: { rows: 1, cols: 4, wgRows: 1, wgCols: 64, vec4: true, sharedK: 0 },
} as const satisfies Record<string, MatmulVariant>;

/**
 * Rows from which the packed variant pays for packing B: packing costs about as much as a
 * product of this many rows saves (measured with `npm run bench`, docs/benchmarks.md). With
 * fewer rows but at least `PACKED_MIN_ROWS` columns, A is packed instead (see `packedOperand`)
 * as long as it has `PACKED_MIN_PACKED_ROWS` rows: fewer leave most of a 64-column tile idle.
 */
export const PACKED_MIN_ROWS = 64;
/**
 * The only subgroup size the packed variant runs at on CPU adapters: lavapipe's default 8 lanes.
 * With 16-lane vectors (`LP_NATIVE_VECTOR_WIDTH=512`) lavapipe 25.0 returns wrong texels to lanes
 * 8-15 of the texture reads (measured), so products there keep the buffer path.
 */
export const PACKED_SUBGROUP_SIZE = 8;
/** Fewest rows of A for which A is packed instead of B (see `PACKED_MIN_ROWS` and `packedOperand`). */
export const PACKED_MIN_PACKED_ROWS = 32;

/**
 * Which operand the packed variant packs into a texture: the smaller one, A (the product is then
 * computed as Cᵀ = Bᵀ·Aᵀ) when B has more columns than A has rows, and at least `PACKED_MIN_ROWS`
 * of them. Packing runs on every call and costs about one pass over the packed operand, so a
 * transformer's x·Wᵀ with few tokens packs x rather than the weight.
 */
export function packedOperand(rows: number, cols: number): 'a' | 'b' {
  return cols >= PACKED_MIN_ROWS && rows < cols ? 'a' : 'b';
}

/**
 * The variant for an adapter and a product of `rows` rows (after folding): the register path on
 * CPU adapters (packed when the adapter has fixed-size subgroups and there are enough rows),
 * shared-memory tiles on GPUs, and narrower tiles when there are few rows.
 */
export function pickMatmulVariant(
  adapter: Pick<AdapterDescription, 'isSoftware'> & Partial<Pick<AdapterDescription, 'subgroupSize'>>,
  rows = Infinity,
  cols = Infinity,
): MatmulVariant {
  if (adapter.isSoftware) {
    const packable = rows >= PACKED_MIN_ROWS || (cols >= PACKED_MIN_ROWS && rows >= PACKED_MIN_PACKED_ROWS);
    if (adapter.subgroupSize === PACKED_SUBGROUP_SIZE && packable) return MATMUL_VARIANTS.softwarePacked;
    if (rows <= 1) return MATMUL_VARIANTS.softwareOneRow;
    return rows <= 4 ? MATMUL_VARIANTS.softwareFewRows : MATMUL_VARIANTS.software;
  }
  return rows <= 1 ? MATMUL_VARIANTS.hardwareOneRow : MATMUL_VARIANTS.hardware;
}


/** Throws, naming the variant, unless the template can run it on this adapter. */
export function checkVariant(v: MatmulVariant): void {
  const ok =
    [v.rows, v.cols, v.wgRows, v.wgCols].every((x) => Number.isInteger(x) && x >= 1) &&
    v.cols % 4 === 0 &&
    v.sharedK % 4 === 0 &&
    v.sharedK >= 0 &&
    ((!v.broadcastA && !v.textureB) || v.sharedK === 0);
  if (!ok) throw new Error(`matmul: invalid variant ${JSON.stringify(v)} (cols and sharedK must be multiples of 4; broadcastA and textureB need sharedK 0)`);
  const info = runtime().adapterInfo;
  if (v.textureB && info.isSoftware && info.subgroupSize !== PACKED_SUBGROUP_SIZE) {
    throw new Error(
      `matmul: variant ${JSON.stringify(v)} reads a packed texture, which this CPU adapter gets wrong unless its subgroups ` +
        `have ${PACKED_SUBGROUP_SIZE} lanes (this one: ${info.subgroupSize ?? 'no fixed-size subgroups'})`,
    );
  }
  if (v.broadcastA && (v.wgRows !== 1 || runtime().adapterInfo.subgroupSize !== v.wgCols)) {
    throw new Error(
      `matmul: variant ${JSON.stringify(v)} broadcasts A across a subgroup, which needs one row of ${v.wgCols} invocations ` +
        `and an adapter whose subgroups have exactly that size (this one: ${runtime().adapterInfo.subgroupSize ?? 'no fixed-size subgroups'})`,
    );
  }
}
