/**
 * How the register path reads one operand. Each way in (a buffer in the operand's layout, rows
 * shared by subgroup broadcast, a packed texture, …) is one `OperandReader` in a file of its own;
 * `readerForA`/`readerForB` (readers/index.ts) pick one from the spec.
 */
import type { BindingDecl } from '../../wgsl/common.js';
import { loadElement, quadDecoderName } from '../../wgsl/half.js';
import { isHalf } from '../../view.js';
import type { MatmulLayout } from '../plan.js';
import type { OperandDType } from '../spec.js';

/** WGSL for one operand of the register path: its binding, the code before the K loop, and its loads. */
export interface OperandReader {
  /** The operand's binding (named A or B). */
  binding: BindingDecl;
  /** Statements before the K loop (base offsets); they may use row0, col0, M, N, K, oa, ob, strides. */
  setup: string[];
  /** Statements that load K steps `kks` (relative to the loop's `k`) into the reader's names. */
  load: (kks: number[], indent: string) => string[];
  /**
   * The loaded value for (row, k step) of A, or the vec4 for (k step, column group) of B;
   * `step4` is true in the 4-step loop and false in the 1-step tail.
   */
  at: (step4: boolean) => (x: number, y: number) => string;
}

/**
 * A storage-buffer binding read in `layout`: vec4 elements for the '…4' layouts, else f32; 16-bit
 * storage as u32 words (pairs of words for the '…4' layouts), widened as it is read (`operandAt`).
 */
export function bufferBinding(name: 'A' | 'B', layout: MatmulLayout, dtype: OperandDType = 'f32'): BindingDecl {
  const quad = layout.endsWith('4');
  const type = isHalf(dtype) ? (quad ? 'vec2<u32>' : 'u32') : quad ? 'vec4<f32>' : 'f32';
  return { name, access: 'read', type };
}

/**
 * WGSL for one load of operand `name` at `index` (in vec4 units for the '…4' layouts, else in
 * elements), as f32 values whatever the storage.
 */
export function operandAt(name: 'A' | 'B', layout: MatmulLayout, dtype: OperandDType, index: string): string {
  if (!isHalf(dtype)) return `${name}[${index}]`;
  return layout.endsWith('4') ? `${quadDecoderName(dtype)}(${name}[${index}])` : loadElement(dtype, name, index);
}
