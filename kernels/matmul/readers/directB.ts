/** B read by each invocation for its own columns, straight from the buffer in B's layout. */
import { range, vec4Of, type MatmulSpec } from '../spec.js';
import type { MatmulLayout } from '../plan.js';
import { bufferBinding, operandAt, type OperandReader } from './reader.js';
import type { OperandDType } from '../spec.js';

/** Each invocation loads its own columns of B from the buffer. */
export function directB(s: MatmulSpec): OperandReader {
  const lb = s.lb;
  if (lb === 'packed' || lb === 'packedK') throw new Error('matmul: a packed B is read from its texture (textureB)');
  const RN = s.v.cols;
  const J = RN / 4;
  const setup: string[] = [];
  if (lb === 'mn4') {
    for (const j of range(J)) setup.push(`  let bb${j} = (ob + min(col0 + ${j * 4}u, N - 4u)) / 4u;`);
    setup.push('  let sBk4 = sBk / 4u;');
  } else {
    for (const c of range(RN)) {
      const base = `ob + min(col0 + ${c}u, N - 1u) * sBn`;
      setup.push(`  let bb${c} = ${lb === 'k4' ? `(${base}) / 4u` : base};`);
    }
  }
  return { binding: bufferBinding('B', lb, s.dtypeB), setup, load: (kks, indent) => loads(lb, s.dtypeB, RN, kks, indent), at: (step4) => (kk, j) => valueAt(lb, step4, kk, j) };
}

function loads(lb: MatmulLayout, dt: OperandDType, RN: number, kks: number[], indent: string): string[] {
  const lines: string[] = [];
  const B = (index: string): string => operandAt('B', lb, dt, index);
  if (lb === 'k4') {
    if (kks.length === 4) for (const c of range(RN)) lines.push(`${indent}let b${c} = ${B(`bb${c} + k / 4u`)};`);
    else for (const c of range(RN)) lines.push(`${indent}let b${c} = ${B(`bb${c} + k / 4u`)}[k % 4u];`);
  } else if (lb === 'mn4') {
    for (const kk of kks) for (const j of range(RN / 4)) lines.push(`${indent}let b${kk}_${j} = ${B(`bb${j} + (k + ${kk}u) * sBk4`)};`);
  } else {
    for (const kk of kks) for (const c of range(RN)) lines.push(`${indent}let b${c}_${kk} = ${B(`bb${c} + (k + ${kk}u) * sBk`)};`);
  }
  return lines;
}

function valueAt(lb: MatmulLayout, step4: boolean, kk: number, j: number): string {
  if (lb === 'mn4') return `b${kk}_${j}`;
  if (lb === 'k4') return vec4Of(range(4).map((q) => (step4 ? `b${j * 4 + q}[${kk}]` : `b${j * 4 + q}`)));
  return vec4Of(range(4).map((q) => `b${j * 4 + q}_${kk}`));
}
