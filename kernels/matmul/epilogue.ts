/**
 * The stores: each accumulator scaled by alpha, the bias added, masked to the matrix (clamped
 * rows and columns computed duplicates that are never stored). C's rows are `sCm` apart: N for a
 * contiguous result, more when the caller asked for another memory order (`MatmulOptions.memoryOrder`). A transposed C (the product
 * computed as Bᵀ·Aᵀ) is stored column by column, with the bias along the kernel's rows.
 */
import { elementwiseCode } from '../elementwise.js';
import { P, range, vec4Of, type MatmulSpec } from './spec.js';

/** Masked stores of the accumulators into C (and of what `then` makes of them into D). */
export function epilogue(s: MatmulSpec): string[] {
  const L = [`  let alpha = bitcast<f32>(p[${P.alpha}u]);`, `  let sCm = p[${P.sCm}u];`];
  const withE = s.then === 'add' || s.then === 'accumulate';
  if (withE) L.push(`  let sEm = p[${P.sEm}u]; let sEn = p[${P.sEn}u];`);
  if (s.storeVec4) return [...L, ...quadsAlongRows(s)];
  for (const r of range(s.v.rows)) {
    L.push(`  if (row0 + ${r}u < M) {`);
    L.push(s.transposedC ? `    let o${r} = oc + row0 + ${r}u + col0 * sCm;` : `    let o${r} = oc + (row0 + ${r}u) * sCm + col0;`);
    if (s.bias && s.transposedC) L.push(`    let bias${r} = bias[p[${P.offBias}u] + (row0 + ${r}u) * p[${P.sBias}u]];`);
    for (const j of range(s.v.cols / 4))
      for (const q of range(4)) {
        const c = j * 4 + q;
        const biasValue = s.transposedC ? `bias${r}` : `bias[p[${P.offBias}u] + (col0 + ${c}u) * p[${P.sBias}u]]`;
        const value = s.bias ? `acc${r}_${j}[${q}] * alpha + ${biasValue}` : `acc${r}_${j}[${q}] * alpha`;
        const at = `o${r} + ${s.transposedC ? `${c}u * sCm` : `${c}u`}`;
        const stores = storesOf(s, at, () => `E[${eIndex(s, r, c)}]`, (f) => `${f}(v)`);
        L.push(`    if (col0 + ${c}u < N) { let v = ${value}; ${stores.join(' ')} }`);
      }
    L.push('  }');
  }
  return L;
}

/** E's element for the kernel's (row r, column c) of the tile. */
function eIndex(s: MatmulSpec, r: number, c: number): string {
  return `oe + ${s.transposedC ? `(col0 + ${c}u) * sEm + (row0 + ${r}u) * sEn` : `(row0 + ${r}u) * sEm + (col0 + ${c}u) * sEn`}`;
}

/**
 * The stores of the value `v` (one element, or a vec4) at `at` of C: with `then`, E's value(s) `e`
 * added, or the activation applied by `activate` (to the element or each component) into D, as
 * the op's own kernel would compute it.
 */
function storesOf(s: MatmulSpec, at: string, e: () => string, activate: (f: string) => string): string[] {
  if (s.then === '') return [`C[${at}] = v;`];
  if (s.then === 'accumulate') return [`C[${at}] = v + ${e()};`];
  return [`C[${at}] = v;`, `D[${at}] = ${s.then === 'add' ? `v + ${e()}` : activate(`then_${s.then}`)};`];
}

/**
 * C transposed (`storeVec4`), contiguous along the kernel's rows: four rows of one column make a
 * vec4 of C. Lanes own columns, so each store lands `sCm` from its neighbour's and lavapipe
 * scatters it lane by lane; one vec4 store there costs less than four scalar ones (the epilogue
 * table of `npm run bench -- --variants`, docs/benchmarks.md).
 */
function quadsAlongRows(s: MatmulSpec): string[] {
  const L: string[] = [];
  const quads = s.v.rows / 4;
  if (s.bias)
    for (const g of range(quads))
      L.push(`  let bias${g} = ${vec4Of(range(4).map((q) => `bias[p[${P.offBias}u] + min(row0 + ${g * 4 + q}u, M - 1u) * p[${P.sBias}u]]`))};`);
  for (const c of range(s.v.cols)) {
    const [j, q] = [Math.floor(c / 4), c % 4];
    L.push(`  if (col0 + ${c}u < N) {`, `    let o${c} = (oc + (col0 + ${c}u) * sCm + row0) / 4u;`);
    for (const g of range(quads)) {
      const value = vec4Of(range(4).map((i) => `acc${g * 4 + i}_${j}[${q}]`));
      L.push(`    if (row0 + ${g * 4}u < M) {`, `      let v = ${value} * alpha${s.bias ? ` + bias${g}` : ''};`);
      const e = (): string => vec4Of(range(4).map((i) => `E[${eIndex(s, g * 4 + i, c)}]`));
      const stores = storesOf(s, `o${c} + ${g}u`, e, (f) => `vec4<f32>(${f}(v.x), ${f}(v.y), ${f}(v.z), ${f}(v.w))`);
      L.push(...stores.map((line) => `      ${line}`), '    }');
    }
    L.push('  }');
  }
  return L;
}

/** Module-scope WGSL the epilogue's `then` calls: the activation as a function, and its helpers. */
export function thenFunctions(s: MatmulSpec): string[] {
  if (s.then === '' || s.then === 'add' || s.then === 'accumulate') return [];
  const { expression, support } = elementwiseCode(s.then);
  return [...support, `fn then_${s.then}(a: f32) -> f32 { return ${expression}; }`];
}
