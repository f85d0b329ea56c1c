/**
 * Exit codes and failure messages of every `lrp` command: whose fault a failure is decides the
 * code (2 bad input, 1 the computation failed, 3 our bug), and the message is one `lrp: ...` line
 * (the stack only under LRP_DEBUG=1).
 */
import { ComputationError, InputError } from '../../kernels/errors.js';
import { NoAdapterError } from '../../kernels/runtime.js';

export const EXIT_OK = 0;
export const EXIT_COMPUTATION_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL_ERROR = 3;

/** Whose fault a failure is decides the exit code; an error of no known kind is our bug. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InputError) return EXIT_BAD_INPUT;
  if (error instanceof ComputationError || error instanceof NoAdapterError) return EXIT_COMPUTATION_FAILED;
  if (error instanceof Error && error.message.startsWith('WebGPU reported')) return EXIT_COMPUTATION_FAILED;
  return EXIT_INTERNAL_ERROR;
}

/** The `lrp: ...` lines for a failure; the stack only under LRP_DEBUG=1. */
export function describeFailure(error: unknown, code: number, debug: boolean): string {
  const message = error instanceof Error ? error.message : String(error);
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  if (code === EXIT_INTERNAL_ERROR) {
    return `lrp: internal error: ${message}\n${stack || 'lrp: this is a bug in lrp; LRP_DEBUG=1 prints the stack\n'}`;
  }
  return `lrp: ${message}\n${stack}`;
}

/** LRP_DEBUG=1, read without ever throwing (it is read while reporting another failure). */
export function debugRequested(): boolean {
  return process.env.LRP_DEBUG === '1';
}

export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

