/**
 * A rows shared across the subgroup: lane l loads row (g·S + l) of the tile, and
 * `subgroupBroadcast` hands every row's value to all lanes. On lavapipe a buffer load costs a
 * scalar load and bounds check per lane, while a broadcast is one register shuffle, so the tile's
 * A values are loaded once instead of S times.
 */
import { range, vec4Of, type MatmulSpec } from '../spec.js';
import type { MatmulVariant } from '../variants.js';
import { bufferBinding, operandAt, type OperandReader } from './reader.js';

/** Reads A by subgroup broadcast (needs `v.broadcastA`: one subgroup of `wgCols` lanes per workgroup row). */
export function broadcastA(s: MatmulSpec): OperandReader {
  const { la } = s;
  if (la === 'mn4') return broadcastAlongM(s);
  const RM = s.v.rows;
  const S = s.v.wgCols;
  const groups = Math.ceil(RM / S);
  const setup = range(groups).map((g) => {
    const base = `oa + min(row0 + ${g * S}u + lane, M - 1u) * sAm`;
    return `  let ab${g} = ${la === 'k4' ? `(${base}) / 4u` : base};`;
  });
  const A = (index: string): string => operandAt('A', la, s.dtypeA, index);
  const load = (kks: number[], indent: string): string[] => {
    const lines: string[] = [];
    for (const g of range(groups)) {
      if (la === 'k4') lines.push(`${indent}let al${g} = ${A(`ab${g} + k / 4u`)}${kks.length === 4 ? '' : '[k % 4u]'};`);
      else if (kks.length === 4) lines.push(`${indent}let al${g} = ${vec4Of(kks.map((kk) => A(`ab${g} + (k + ${kk}u) * sAk`)))};`);
      else lines.push(`${indent}let al${g} = ${A(`ab${g} + k * sAk`)};`);
    }
    for (const kk of kks)
      for (const r of range(RM)) {
        const value = kks.length === 4 ? `al${Math.floor(r / S)}[${kk}]` : `al${Math.floor(r / S)}`;
        lines.push(`${indent}let a${r}_${kk} = subgroupBroadcast(${value}, ${r % S}u);`);
      }
    return lines;
  };
  return { binding: bufferBinding('A', la, s.dtypeA), setup, load, at: () => (r, kk) => `a${r}_${kk}` };
}

/**
 * Whether a broadcast variant can read A as vec4s of four consecutive rows ('mn4'): the tile's
 * row quads × 4 steps of K must spread evenly over the subgroup's lanes, each lane keeping one
 * row quad.
 */
export function broadcastAlongMFits(v: MatmulVariant): boolean {
  const quads = v.rows / 4;
  return Number.isInteger(quads) && (4 * quads) % v.wgCols === 0 && v.wgCols % quads === 0;
}

/**
 * A contiguous along M (a weight read transposed: s·W in a linear layer's backward). Lane l loads
 * vec4s of four rows: row quad l mod Q at steps l div Q, l div Q + S/Q, … of K (Q row quads, S
 * lanes), so four steps of K cost each lane 4Q/S vector loads instead of 4·RM/S strided scalar ones.
 */
function broadcastAlongM(s: MatmulSpec): OperandReader {
  const RM = s.v.rows;
  const S = s.v.wgCols;
  const Q = RM / 4;
  const loadsPerLane = (4 * Q) / S;
  const stepsPerLoad = S / Q; // K steps one load round covers
  const A = (index: string): string => operandAt('A', 'mn4', s.dtypeA, index);
  const setup = [`  let aq = (oa + min(row0 / 4u + lane % ${Q}u, M / 4u - 1u) * 4u) / 4u;`, `  let ak = lane / ${Q}u;`, '  let sAk4 = sAk / 4u;'];
  const load = (kks: number[], indent: string): string[] => {
    const lines: string[] = [];
    if (kks.length === 4) {
      for (const i of range(loadsPerLane)) lines.push(`${indent}let al${i} = ${A(`aq + (k + ak + ${i * stepsPerLoad}u) * sAk4`)};`);
      for (const kk of kks)
        for (const r of range(RM)) {
          const quad = Math.floor(r / 4);
          const lane = quad + Q * (kk % stepsPerLoad);
          lines.push(`${indent}let a${r}_${kk} = subgroupBroadcast(al${Math.floor(kk / stepsPerLoad)}[${r % 4}], ${lane}u);`);
        }
    } else {
      // One step of K: lanes 0 … Q−1 hold the row quads (the others load a valid duplicate).
      lines.push(`${indent}let al0 = ${A('aq + k * sAk4')};`);
      for (const r of range(RM)) lines.push(`${indent}let a${r}_0 = subgroupBroadcast(al0[${r % 4}], ${Math.floor(r / 4)}u);`);
    }
    return lines;
  };
  return { binding: bufferBinding('A', 'mn4', s.dtypeA), setup, load, at: () => (r, kk) => `a${r}_${kk}` };
}
