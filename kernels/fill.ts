/**
 * Creation kernels: tensors computed from the element index alone (fill, arange, causal masks).
 * One declarative record per generator, one template, one launcher. Seeded random numbers live in
 * random.ts.
 */
import { runtime } from './runtime.js';
import { numel } from './shape.js';
import { allocate, f32Bits, type DType, type KernelOutput } from './view.js';
import { flatEntry, header, workgroupsFor } from './wgsl/common.js';
import { templateLaunch } from './wgsl/specKey.js';

/** The most negative finite f32 (PyTorch's `torch.finfo(torch.float32).min`), used by additive masks. */
export const F32_MIN = -3.4028234663852886e38;
const F32_MIN_BITS = '0xff7fffffu';

interface GeneratorDef {
  /** WGSL expression for element `i` (u32) of a tensor of type `t`; parameters start at p[1]. */
  wgsl: (t: DType) => string;
  dtypes: readonly DType[];
}

const GENERATORS = {
  /** p[1]: the value's bits. */
  fill: { wgsl: (t) => `bitcast<${t}>(p[1])`, dtypes: ['f32', 'i32'] },
  /** p[1]: start, p[2]: step (bits of the output type). */
  arange: { wgsl: (t) => `bitcast<${t}>(p[1]) + ${t}(i) * bitcast<${t}>(p[2])`, dtypes: ['f32', 'i32'] },
  /** [T, S] additive mask, p[1]: S, p[2]: offset (i32). Key j is visible to query q when j ≤ q + offset. */
  causalMask: {
    wgsl: () => `select(bitcast<f32>(${F32_MIN_BITS}), 0.0, i32(i % p[1]) <= i32(i / p[1]) + bitcast<i32>(p[2]))`,
    dtypes: ['f32'],
  },
} as const satisfies Record<string, GeneratorDef>;

type Generator = keyof typeof GENERATORS;

function generateWgsl(kind: Generator, dtype: DType): string {
  const def: GeneratorDef = GENERATORS[kind];
  return [
    header([{ name: 'out', access: 'read_write', type: dtype }]),
    flatEntry(`  if (i >= p[0]) { return; }\n  out[i] = ${def.wgsl(dtype)};`),
  ].join('\n\n');
}

/** Bits of `value` as the given dtype, for the parameter block. */
function bitsOf(value: number, dtype: DType): number {
  return dtype === 'f32' ? f32Bits(value) : value >>> 0;
}

function generate(kind: Generator, shape: readonly number[], dtype: DType, params: readonly number[]): KernelOutput {
  const def: GeneratorDef = GENERATORS[kind];
  if (!def.dtypes.includes(dtype)) throw new Error(`${kind}: dtype ${dtype} is not supported`);
  const out = allocate(kind, shape, dtype);
  const n = numel(shape);
  runtime().dispatch({
    ...templateLaunch('generate', { kind, dtype }, (s) => generateWgsl(s.kind, s.dtype)),
    bindings: [out],
    params: new Uint32Array([n, ...params]),
    workgroups: workgroupsFor(n),
  });
  return { buffer: out, shape: [...shape], dtype };
}

export function fill(shape: readonly number[], value: number, dtype: DType = 'f32'): KernelOutput {
  return generate('fill', shape, dtype, [bitsOf(value, dtype)]);
}

/** [n] with element k = start + k·step (computed in the output type). */
export function arange(n: number, dtype: DType = 'f32', start = 0, step = 1): KernelOutput {
  if (dtype === 'i32' && !(Number.isInteger(start) && Number.isInteger(step))) {
    throw new Error(`arange: an i32 range needs integer start and step, got ${start} and ${step}`);
  }
  return generate('arange', [n], dtype, [bitsOf(start, dtype), bitsOf(step, dtype)]);
}

/**
 * [T, S] additive causal mask: 0 where key j ≤ query i + offset, F32_MIN elsewhere. With a KV
 * cache of S − T earlier positions, offset = S − T lets query i see keys up to its own position.
 */
export function causalMask(T: number, S: number, offset: number): KernelOutput {
  return generate('causalMask', [T, S], 'f32', [S, offset | 0]);
}
