import { defineConfig } from 'vitest/config';

// forks: a native crash in Dawn takes down one file, not the run (docs/runtime.md, "Lifetime").
// The `gc` project runs with --expose-gc for the garbage-collection regression tests.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/**/*.test.ts'], exclude: ['tests/gc/**'] },
      },
      {
        extends: true,
        test: { name: 'gc', include: ['tests/gc/**/*.test.ts'], execArgv: ['--expose-gc'] },
      },
    ],
  },
});
