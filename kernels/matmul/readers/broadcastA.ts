/**
 * A rows shared across the subgroup: lane l loads row (g·S + l) of the tile, and
 * `subgroupBroadcast` hands every row's value to all lanes. On lavapipe a buffer load costs a
 * scalar load and bounds check per lane, while a broadcast is one register shuffle, so the tile's
 * A values are loaded once instead of S times.
 */
import { range, vec4Of, type MatmulSpec } from '../spec.js';
import { bufferBinding, type OperandReader } from './reader.js';

/** Reads A by subgroup broadcast (needs `v.broadcastA`: one subgroup of `wgCols` lanes per workgroup row). */
export function broadcastA(s: MatmulSpec): OperandReader {
  const { la } = s;
  const RM = s.v.rows;
  const S = s.v.wgCols;
  const groups = Math.ceil(RM / S);
  const setup = range(groups).map((g) => {
    const base = `oa + min(row0 + ${g * S}u + lane, M - 1u) * sAm`;
    return `  let ab${g} = ${la === 'k4' ? `(${base}) / 4u` : base};`;
  });
  const load = (kks: number[], indent: string): string[] => {
    const lines: string[] = [];
    for (const g of range(groups)) {
      if (la === 'k4') lines.push(`${indent}let al${g} = A[ab${g} + k / 4u]${kks.length === 4 ? '' : '[k % 4u]'};`);
      else if (kks.length === 4) lines.push(`${indent}let al${g} = ${vec4Of(kks.map((kk) => `A[ab${g} + (k + ${kk}u) * sAk]`))};`);
      else lines.push(`${indent}let al${g} = A[ab${g} + k * sAk];`);
    }
    for (const kk of kks)
      for (const r of range(RM)) {
        const value = kks.length === 4 ? `al${Math.floor(r / S)}[${kk}]` : `al${Math.floor(r / S)}`;
        lines.push(`${indent}let a${r}_${kk} = subgroupBroadcast(${value}, ${r % S}u);`);
      }
    return lines;
  };
  return { binding: bufferBinding('A', la), setup, load, at: () => (r, kk) => `a${r}_${kk}` };
}
