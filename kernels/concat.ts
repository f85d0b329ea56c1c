/**
 * Concatenation along one axis. f32 inputs are written in one dispatch (`windowSum`, each input a
 * window of the output; more inputs than the adapter's storage bindings take one dispatch per
 * batch); other dtypes by the strided elementwise copy, one dispatch per non-empty input.
 */
import { elementwise } from './elementwise.js';
import { windowSum } from './pad.js';
import { contiguousStrides, normalizeAxis, shapeToString } from './shape.js';
import { allocate, type GpuView, type KernelOutput } from './view.js';

/** Output shape of concatenating `shapes` along `axis`; throws naming every shape on mismatch. */
export function concatShape(op: string, shapes: readonly (readonly number[])[], axis: number): { shape: number[]; axis: number } {
  const all = shapes.map(shapeToString).join(', ');
  if (shapes.length === 0) throw new Error(`${op}: needs at least one tensor`);
  const rank = shapes[0]!.length;
  if (rank === 0) throw new Error(`${op}: cannot concatenate 0-d tensors (shapes ${all})`);
  const a = normalizeAxis(op, axis, rank);
  const shape = [...shapes[0]!];
  shape[a] = 0;
  for (const s of shapes) {
    if (s.length !== rank || s.some((d, i) => i !== a && d !== shapes[0]![i])) {
      throw new Error(`${op}: shapes ${all} differ outside axis ${axis}`);
    }
    shape[a] += s[a]!;
  }
  return { shape, axis: a };
}

/** `inputs` joined along `axis` in a new contiguous tensor; shapes must agree elsewhere and dtypes everywhere. */
export function concat(inputs: readonly GpuView[], axis: number, op = 'concat'): KernelOutput {
  const { shape, axis: a } = concatShape(op, inputs.map((v) => v.shape), axis);
  const dtype = inputs[0]!.dtype;
  const mixed = inputs.find((v) => v.dtype !== dtype);
  if (mixed) throw new Error(`${op}: mixed dtypes ${dtype} and ${mixed.dtype} (shapes ${inputs.map((v) => shapeToString(v.shape)).join(', ')})`);
  if (dtype === 'f32') {
    let start = 0;
    const parts = inputs.map((g) => {
      start += g.shape[a]!;
      return { g, start: start - g.shape[a]!, step: 1 };
    });
    return windowSum(shape, a, parts, null, op);
  }
  const buffer = allocate(op, shape, dtype);
  const strides = contiguousStrides(shape);
  let start = 0;
  for (const v of inputs) {
    // Empty inputs dispatch nothing.
    elementwise('copy', [v], [], { buffer, shape: v.shape, strides, offset: start * strides[a]!, dtype });
    start += v.shape[a]!;
  }
  return { buffer, shape, dtype };
}
