/**
 * The stores: each accumulator scaled by alpha, the bias added, masked to the matrix (clamped
 * rows and columns computed duplicates that are never stored). C's rows are `sCm` apart: N for a
 * contiguous result, more when the caller asked for another memory order (`MatmulOptions.memoryOrder`). A transposed C (the product
 * computed as Bᵀ·Aᵀ) is stored column by column, with the bias along the kernel's rows.
 */
import { elementwiseCode } from '../elementwise.js';
import { P, range, type MatmulSpec } from './spec.js';

/** Masked stores of the accumulators into C (and of what `then` makes of them into D). */
export function epilogue(s: MatmulSpec): string[] {
  const L = [`  let alpha = bitcast<f32>(p[${P.alpha}u]);`, `  let sCm = p[${P.sCm}u];`];
  const withE = s.then === 'add' || s.then === 'accumulate';
  if (withE) L.push(`  let sEm = p[${P.sEm}u]; let sEn = p[${P.sEn}u];`);
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
        if (s.then === '') {
          L.push(`    if (col0 + ${c}u < N) { C[${at}] = ${value}; }`);
          continue;
        }
        const e = `E[oe + ${s.transposedC ? `(col0 + ${c}u) * sEm + (row0 + ${r}u) * sEn` : `(row0 + ${r}u) * sEm + (col0 + ${c}u) * sEn`}]`;
        if (s.then === 'accumulate') {
          L.push(`    if (col0 + ${c}u < N) { C[${at}] = ${value} + ${e}; }`);
          continue;
        }
        // The value is stored, and the op the caller fused is applied to it as the op's own kernel would.
        const then = s.then === 'add' ? `v + ${e}` : `then_${s.then}(v)`;
        L.push(`    if (col0 + ${c}u < N) { let v = ${value}; C[${at}] = v; D[${at}] = ${then}; }`);
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
