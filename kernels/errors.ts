/**
 * Errors that say whose fault a failure is, so that a caller (the CLI) can choose the exit code
 * without parsing messages: InputError → 2 (bad input), ComputationError → 1 (the computation
 * failed on valid input). Anything else is an internal error (exit 3).
 */

/** The caller's input is wrong: a malformed checkpoint or config, an out-of-range id, a bad option. */
export class InputError extends Error {
  /** Shown before the message (`InputError: …`) instead of the inherited `Error`. */
  override name = 'InputError';
}

/** The computation failed on valid input: a non-finite result, a failed conservation assertion. */
export class ComputationError extends Error {
  /** Shown before the message (`ComputationError: …`) instead of the inherited `Error`. */
  override name = 'ComputationError';
}
