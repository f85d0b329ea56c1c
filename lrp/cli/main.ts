#!/usr/bin/env node
/** Entry point of the `lrp` command (see run.ts). */
import { main } from './run.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`lrp: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
