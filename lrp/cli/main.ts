#!/usr/bin/env node
/** Entry point of the `lrp` command (see run.ts); runs itself as a child to filter Dawn's notices. */
import { fileURLToPath } from 'node:url';
import { CHILD_ENV, runFiltered } from './dawnWarnings.js';

const argv = process.argv.slice(2);

if (process.env[CHILD_ENV] === undefined && process.env.LRP_DAWN_WARNINGS !== '1') {
  // The parent only relays the child's stderr; stdout is the child's own (inherited). It loads
  // nothing else: the library (Dawn included) is imported by the child alone.
  runFiltered(fileURLToPath(import.meta.url), argv).then((code) => {
    process.exitCode = code;
  });
} else {
  const { describeFailure, EXIT_INTERNAL_ERROR, EXIT_OK, main } = await import('./run.js');
  if (process.env.LRP_STDERR_TTY === '1') {
    // stderr is the parent's filter pipe, but a person watches the parent's terminal.
    Object.assign(process.stderr, { isTTY: true, columns: Number(process.env.LRP_STDERR_COLUMNS) || 80 });
  }

  // A reader that leaves early (`lrp … | head -c1`) closes the pipe: writes then fail with EPIPE.
  // That is the reader's choice, not a failure: end quietly with 0 instead of a Node stack trace.
  // (Output is the command's last step, so nothing is cut short.)
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(EXIT_OK);
  });

  // main() turns every failure into an exit code; this catches only a failure of that reporting.
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(describeFailure(error, EXIT_INTERNAL_ERROR, true));
      process.exitCode = EXIT_INTERNAL_ERROR;
    },
  );
}
