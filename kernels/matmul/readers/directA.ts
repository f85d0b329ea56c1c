/** A read by each invocation for its own rows, in A's layout (uniform across a SIMD vector on CPUs). */
import { range, type MatmulSpec } from '../spec.js';
import type { MatmulLayout } from '../plan.js';
import { bufferBinding, operandAt, type OperandReader } from './reader.js';
import type { OperandDType } from '../spec.js';

/** Each invocation loads the A values of its own rows straight from the buffer. */
export function directA(s: MatmulSpec): OperandReader {
  const la = s.la;
  const RM = s.v.rows;
  const setup: string[] = [];
  // Per-row (k layouts) or per-4-row-group (mn4) base offsets, in the binding's units.
  if (la === 'mn4') {
    for (const g of range(RM / 4)) setup.push(`  let ab${g} = (oa + min(row0 + ${g * 4}u, M - 4u)) / 4u;`);
    setup.push('  let sAk4 = sAk / 4u;');
  } else {
    for (const r of range(RM)) {
      const base = `oa + min(row0 + ${r}u, M - 1u) * sAm`;
      setup.push(`  let ab${r} = ${la === 'k4' ? `(${base}) / 4u` : base};`);
    }
  }
  return { binding: bufferBinding('A', la, s.dtypeA), setup, load: (kks, indent) => loads(la, s.dtypeA, RM, kks, indent), at: (step4) => (r, kk) => valueAt(la, step4, r, kk) };
}

function loads(la: MatmulLayout, dt: OperandDType, RM: number, kks: number[], indent: string): string[] {
  const lines: string[] = [];
  const A = (index: string): string => operandAt('A', la, dt, index);
  if (la === 'k4') {
    if (kks.length === 4) for (const r of range(RM)) lines.push(`${indent}let a${r} = ${A(`ab${r} + k / 4u`)};`);
    else for (const r of range(RM)) lines.push(`${indent}let a${r} = ${A(`ab${r} + k / 4u`)}[k % 4u];`); // never runs: K % 4 == 0
  } else if (la === 'mn4') {
    for (const kk of kks) for (const g of range(RM / 4)) lines.push(`${indent}let a${kk}_${g} = ${A(`ab${g} + (k + ${kk}u) * sAk4`)};`);
  } else {
    for (const kk of kks) for (const r of range(RM)) lines.push(`${indent}let a${r}_${kk} = ${A(`ab${r} + (k + ${kk}u) * sAk`)};`);
  }
  return lines;
}

function valueAt(la: MatmulLayout, step4: boolean, r: number, kk: number): string {
  if (la === 'k4') return step4 ? `a${r}[${kk}]` : `a${r}`;
  if (la === 'mn4') return `a${kk}_${r >> 2}[${r & 3}]`;
  return `a${r}_${kk}`;
}
