/** Creation kernels: fill with a constant. (arange and seeded random live beside it.) */
import { runtime } from './runtime.js';
import { numel } from './shape.js';
import { allocate, f32Bits, type DType, type KernelOutput } from './view.js';
import { flatEntry, header, workgroupsFor } from './wgsl/common.js';

function fillWgsl(dtype: DType): string {
  return [
    header([{ name: 'out', access: 'read_write', type: dtype }]),
    flatEntry(`  if (i >= p[0]) { return; }\n  out[i] = bitcast<${dtype}>(p[1]);`),
  ].join('\n\n');
}

export function fill(shape: readonly number[], value: number, dtype: DType = 'f32'): KernelOutput {
  const out = allocate('fill', shape, dtype);
  const n = numel(shape);
  const bits = dtype === 'f32' ? f32Bits(value) : value >>> 0;
  runtime().dispatch({ key: `fill/${dtype}`, wgsl: () => fillWgsl(dtype), bindings: [out], params: new Uint32Array([n, bits]), workgroups: workgroupsFor(n) });
  return { buffer: out, shape: [...shape], dtype };
}
