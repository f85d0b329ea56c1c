/** Where the package's own files are: the root (beside package.json) and the shipped demo models. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file's location (works from the sources and from dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (package.json)');
    dir = up;
  }
  return dir;
}

/** The shipped demo model of a task: models/<task>. */
export function demoModelDir(task: string): string {
  return join(packageRoot(), 'models', task);
}
