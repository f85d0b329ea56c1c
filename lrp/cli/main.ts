#!/usr/bin/env node
/** Entry point of the `lrp` command (see run.ts); runs itself as a child to filter Dawn's notices. */
import { fileURLToPath } from 'node:url';
import { CHILD_ENV, runFiltered } from './dawnWarnings.js';
import { main } from './run.js';

const argv = process.argv.slice(2);

if (process.env[CHILD_ENV] === undefined && process.env.LRP_DAWN_WARNINGS !== '1') {
  runFiltered(fileURLToPath(import.meta.url), argv).then((code) => {
    process.exitCode = code;
  });
} else {
  if (process.env.LRP_STDERR_TTY === '1') {
    // stderr is the parent's filter pipe, but a person watches the parent's terminal.
    Object.assign(process.stderr, { isTTY: true, columns: Number(process.env.LRP_STDERR_COLUMNS) || 80 });
  }
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`lrp: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
