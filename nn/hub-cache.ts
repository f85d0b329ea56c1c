/**
 * `--model ORG/NAME[@REVISION]`: finds a checkpoint in a local Hugging Face hub cache, offline.
 * Layout (huggingface_hub): <cache>/models--ORG--NAME/{refs/<ref>, snapshots/<commit>/…, blobs/};
 * a ref file holds the commit its snapshot folder is named after. Snapshot files are symlinks into
 * blobs/, which the loader follows.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../kernels/errors.js';

/** The cache folders huggingface_hub would use, most specific first (deduplicated). */
export function hubCacheRoots(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const roots: string[] = [];
  const add = (dir: string | undefined): void => {
    if (dir && !roots.includes(dir)) roots.push(dir);
  };
  add(env['HF_HUB_CACHE']);
  add(env['HUGGINGFACE_HUB_CACHE']); // the older name of HF_HUB_CACHE
  if (env['HF_HOME']) add(join(env['HF_HOME'], 'hub'));
  if (env['XDG_CACHE_HOME']) add(join(env['XDG_CACHE_HOME'], 'huggingface', 'hub'));
  add(join(home, '.cache', 'huggingface', 'hub'));
  return roots;
}

const REPO_ID = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;

const isDir = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The snapshot folder of one cached repository for a revision (a ref name or a commit), or null. */
function snapshotIn(repoDir: string, revision: string | undefined, tried: string[]): string | null {
  const ref = join(repoDir, 'refs', revision ?? 'main');
  if (existsSync(ref)) {
    const commit = readFileSync(ref, 'utf8').trim();
    const dir = join(repoDir, 'snapshots', commit);
    tried.push(`${ref} → ${dir}`);
    return isDir(dir) ? dir : null;
  }
  if (revision) {
    const dir = join(repoDir, 'snapshots', revision);
    tried.push(dir);
    return isDir(dir) ? dir : null;
  }
  tried.push(ref);
  // No refs/main (a cache filled by hand or by another tool): a single snapshot is unambiguous.
  const snapshots = join(repoDir, 'snapshots');
  const entries = isDir(snapshots) ? readdirSync(snapshots).filter((e) => isDir(join(snapshots, e))) : [];
  if (entries.length === 1) return join(snapshots, entries[0]!);
  tried.push(`${snapshots} (${entries.length} snapshots, none chosen by refs/main)`);
  return null;
}

/**
 * `spec` as a model directory: itself when it is a directory, else the cached snapshot of
 * `ORG/NAME` (optionally `@REVISION`); anything else unchanged. Throws an InputError naming every
 * place it looked when an `ORG/NAME` is in no cache.
 */
export function resolveModelDir(spec: string, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (isDir(spec)) return spec;
  const match = REPO_ID.exec(spec);
  // Not a repository id: the loader reports what is missing there.
  if (!match) return spec;
  const [, org, name, revision] = match;
  const tried: string[] = [];
  for (const root of hubCacheRoots(env, home)) {
    const repoDir = join(root, `models--${org}--${name}`);
    if (!isDir(repoDir)) {
      tried.push(repoDir);
      continue;
    }
    const snapshot = snapshotIn(repoDir, revision, tried);
    if (snapshot) return snapshot;
  }
  throw new InputError(
    `--model ${spec}: not a directory, and not in a local Hugging Face cache (offline; set HF_HUB_CACHE or HF_HOME). Tried:\n  ${tried.join('\n  ')}`,
  );
}
