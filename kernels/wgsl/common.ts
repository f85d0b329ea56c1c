/**
 * WGSL building blocks every kernel template uses: the binding header, the flat invocation index
 * over a folded 2-D dispatch, and strided indexing. Indexing code is written here once.
 */

export const WORKGROUP_SIZE = 256;

export type Access = 'read' | 'read_write';

export interface BindingDecl {
  name: string;
  access: Access;
  /** WGSL element type: f32, i32, u32, vec4<f32>. */
  type: string;
  /** An rgba32float storage texture array instead of a buffer (`access` 'read' reads it, else it is written). */
  texture?: boolean;
}

/** Binding 0 is always the parameter block `p` (u32 words); the rest follow in order. */
export function header(bindings: readonly BindingDecl[]): string {
  const half = bindings.find((b) => b.type === 'f16' || b.type === 'bf16');
  // 16-bit storage is bound as u32 words (wgsl/half.ts); a kernel that names it directly has not been taught to read it.
  if (half) throw new Error(`binding ${half.name}: this kernel does not read ${half.type} storage (widen the tensor to f32 first)`);
  const lines = ['@group(0) @binding(0) var<storage, read> p: array<u32>;'];
  bindings.forEach((b, i) =>
    lines.push(
      b.texture
        ? `@group(0) @binding(${i + 1}) var ${b.name}: texture_storage_2d_array<rgba32float, ${b.access === 'read' ? 'read' : 'write'}>;`
        : `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`,
    ),
  );
  return lines.join('\n');
}

/** Entry point whose body sees `i`, the flat invocation index (dispatches fold into x and y). */
export function flatEntry(body: string, workgroupSize = WORKGROUP_SIZE): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${workgroupSize}u;
${body}
}`;
}

/** Reads parameter word `index` as f32. */
export function paramF32(index: number): string {
  return `bitcast<f32>(p[${index}u])`;
}

/**
 * WGSL statements that turn flat index `flat` into element offsets of several operands.
 * Parameter layout: shape at `shapeAt` (rank words), then for operand k its strides at
 * `stridesAt + k * rank`; its start offset is parameter `offsetsAt + k`, or 0 when `offsetsAt`
 * is null. Declares `var <name>: u32` per operand; `tag` keeps temporaries of nested uses apart.
 */
export function stridedOffsets(opts: {
  flat: string;
  rank: number;
  names: readonly string[];
  shapeAt: number;
  offsetsAt: number | null;
  stridesAt: number;
  tag?: string;
}): string {
  const { flat, rank, names, shapeAt, offsetsAt, stridesAt, tag = '' } = opts;
  const lines = names.map((n, k) => `  var ${n}: u32 = ${offsetsAt === null ? '0u' : `p[${offsetsAt + k}u]`};`);
  if (rank === 0) return lines.join('\n');
  const rem = `rem${tag}`;
  lines.push(`  var ${rem}: u32 = ${flat};`);
  for (let d = rank - 1; d >= 0; d--) {
    const coord = `c${tag}${d}`;
    if (d > 0) lines.push(`  let ${coord} = ${rem} % p[${shapeAt + d}u]; ${rem} = ${rem} / p[${shapeAt + d}u];`);
    else lines.push(`  let ${coord} = ${rem};`);
    names.forEach((n, k) => lines.push(`  ${n} += ${coord} * p[${stridesAt + k * rank + d}u];`));
  }
  return lines.join('\n');
}

/** Workgroups needed to cover `n` invocations. */
export function workgroupsFor(n: number, workgroupSize = WORKGROUP_SIZE): number {
  return Math.ceil(n / workgroupSize);
}

/**
 * `nan_f32()`: WGSL rejects NaN in constant expressions, so the bits come from a private variable
 * and are bit-cast at run time.
 */
export const NAN_HELPER = `var<private> NAN_BITS: u32 = 0x7fc00000u;
fn nan_f32() -> f32 { return bitcast<f32>(NAN_BITS); }`;
