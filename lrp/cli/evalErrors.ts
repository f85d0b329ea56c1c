/**
 * Exit codes of the evaluation commands: 2 bad input (InputError, or a usage mistake), 1 the
 * computation failed (no GPU adapter, a WebGPU error, non-finite numbers), 3 anything else.
 */
import { ComputationError, InputError } from '../../kernels/errors.js';
import { NoAdapterError } from '../../kernels/runtime.js';

export function evalExitCode(error: unknown): number {
  if (error instanceof InputError || (error instanceof Error && error.name === 'UsageError')) return 2;
  if (error instanceof ComputationError || error instanceof NoAdapterError) return 1;
  if (error instanceof Error && error.message.startsWith('WebGPU reported')) return 1;
  return 3;
}

export interface EvalIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}
