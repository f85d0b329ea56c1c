#!/usr/bin/env node
/** Entry point of the `lrp` command (see run.ts). */
import { describeFailure, EXIT_INTERNAL_ERROR, EXIT_OK, main } from './run.js';

// A reader that leaves early (`lrp … | head -c1`) closes the pipe: writes then fail with EPIPE.
// That is the reader's choice, not a failure: end quietly with 0 instead of a Node stack trace.
// (Output is the command's last step, so nothing is cut short.)
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT_OK);
});

// main() turns every failure into an exit code; this catches only a failure of that reporting.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(describeFailure(error, EXIT_INTERNAL_ERROR, true));
    process.exitCode = EXIT_INTERNAL_ERROR;
  },
);
