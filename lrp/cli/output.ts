/**
 * Writing `--out`: what the path is decides how. A regular file (or a new one) is replaced
 * atomically: a temporary file beside it, with the old file's mode, fsynced, renamed over it, and
 * the directory fsynced, so a crash leaves the old or the new file, never half of one. A character
 * device, a FIFO or a descriptor path (`/dev/stdout`, `/dev/fd/N`, bash's `>(…)`) is written in
 * place: replacing it with a regular file would destroy it. A symbolic link is refused unless the
 * caller follows it, and then its target gets the same treatment.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ComputationError, InputError } from '../../kernels/errors.js';

export interface OutOptions {
  /** Write through a symbolic link to its target instead of refusing it. */
  followSymlinks: boolean;
}

/** Paths that name an already open descriptor of this process: never replaced, always written in place. */
const DESCRIPTOR_PATH = /^\/(dev\/(stdout|stderr|fd\/[0-9]+)|proc\/(self|thread-self|[0-9]+)\/fd\/[0-9]+)$/;

/** This process's standard output under its descriptor names: written through the caller's stream. */
export const STDOUT_PATH = /^\/(dev\/(stdout|fd\/1)|proc\/(self|thread-self)\/fd\/1)$/;

/** Symbolic links followed before giving up (Linux's own limit is 40). */
const MAX_LINKS = 40;

/** Errors that mean the path itself is wrong (bad input), as opposed to the disk failing. */
const PATH_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ELOOP', 'ENAMETOOLONG', 'ENXIO', 'EEXIST', 'ETXTBSY']);

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function failure(path: string, error: unknown): Error {
  const message = (error as Error).message;
  if (error instanceof InputError || error instanceof ComputationError) return error;
  if (PATH_ERRORS.has(errorCode(error) ?? '')) return new InputError(`--out ${path}: cannot write (${message})`);
  // ENOSPC, EDQUOT, EIO, EFBIG: the input was fine, writing it failed.
  return new ComputationError(`--out ${path}: writing failed (${message})`);
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** Writes `text` to `path` in place (no create, no truncate of a regular file, appended). */
async function writeInPlace(path: string, text: string): Promise<void> {
  // O_APPEND: `--out /dev/stdout >> log` must not clobber the log; devices and FIFOs ignore it.
  const file = await open(path, constants.O_WRONLY | constants.O_APPEND);
  try {
    await file.writeFile(text);
  } catch (error) {
    // The reader of a pipe left (`| head -c1`): what it wanted, it has.
    if (errorCode(error) === 'EPIPE') return;
    throw error;
  } finally {
    await file.close();
  }
}

/** fsync of a directory makes a rename durable; some file systems refuse it, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync();
  } catch (error) {
    if (!['EINVAL', 'ENOTSUP', 'EISDIR', 'EBADF', 'EACCES'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

/** Replaces (or creates) a regular file through a temporary file and a rename. */
async function replaceAtomically(path: string, text: string, existing: Stats | null): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const mode = existing ? existing.mode & 0o7777 : 0o666;
  let created = false;
  try {
    const file = await open(temp, 'wx', mode);
    created = true;
    try {
      await file.writeFile(text);
      if (existing) {
        // open() applies the umask; the replaced file's mode (600 stays 600) is what counts.
        await file.chmod(mode);
        // Only root may give a file away; for anyone else the new file is theirs, as with any write.
        if (existing.uid !== process.getuid?.() || existing.gid !== process.getgid?.()) await file.chown(existing.uid, existing.gid).catch(() => undefined);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    created = false;
    await syncDirectory(dir);
  } finally {
    if (created) await rm(temp, { force: true });
  }
}

/** The path a symbolic link points to, resolved against the link's directory. */
async function linkTarget(link: string): Promise<string> {
  const target = await readlink(link);
  return isAbsolute(target) ? target : resolve(dirname(link), target);
}

/** Writes the command's output to `--out path` by the rules above; errors say whose fault they are. */
export async function writeOut(path: string, text: string, options: OutOptions): Promise<void> {
  try {
    if (DESCRIPTOR_PATH.test(path)) return await writeInPlace(path, text);
    let current = path;
    for (let hops = 0; ; hops++) {
      const stats = await lstatOrNull(current);
      if (stats === null) return await replaceAtomically(current, text, null);
      if (stats.isSymbolicLink()) {
        if (!options.followSymlinks) {
          throw new InputError(`--out ${path}: is a symbolic link (to ${await readlink(current)}); pass --follow-symlinks to write to its target`);
        }
        if (hops >= MAX_LINKS) throw new InputError(`--out ${path}: more than ${MAX_LINKS} symbolic links`);
        current = await linkTarget(current);
        continue;
      }
      if (stats.isFile()) return await replaceAtomically(current, text, stats);
      if (stats.isCharacterDevice() || stats.isFIFO()) return await writeInPlace(current, text);
      const what = stats.isDirectory() ? 'a directory' : stats.isBlockDevice() ? 'a block device' : stats.isSocket() ? 'a socket' : 'not a file';
      throw new InputError(`--out ${path}: is ${what}`);
    }
  } catch (error) {
    throw failure(path, error);
  }
}
