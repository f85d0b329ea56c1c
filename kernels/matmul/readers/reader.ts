/**
 * How the register path reads one operand. Each way in (a buffer in the operand's layout, rows
 * shared by subgroup broadcast, a packed texture, …) is one `OperandReader` in a file of its own;
 * `readerForA`/`readerForB` (readers/index.ts) pick one from the spec.
 */
import type { BindingDecl } from '../../wgsl/common.js';
import type { MatmulLayout } from '../plan.js';

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

/** A storage-buffer binding read in `layout`: vec4 elements for the '…4' layouts, else f32. */
export function bufferBinding(name: 'A' | 'B', layout: MatmulLayout): BindingDecl {
  return { name, access: 'read', type: layout.endsWith('4') ? 'vec4<f32>' : 'f32' };
}
