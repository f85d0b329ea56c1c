/**
 * Reading the small files of a model folder (config.json, tokenizer.json, the shard index, the
 * preprocessor config, an image) with a size cap. A FIFO would block open() or read() forever and
 * a device such as /dev/zero never ends, so only regular files are read: the path is stat'ed first
 * (following symlinks, as the Hugging Face cache links every file to a blob), then opened
 * non-blocking and checked again on the open handle (the file may have been swapped in between),
 * and at most `maxBytes` are read.
 */
import { constants, type Stats } from 'node:fs';
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../kernels/errors.js';
import { parseJsonBytes } from './source.js';

/** Size caps of the files a model folder may hold; defined with the portable sources. */
export { MAX_FILE_BYTES } from './source.js';

/** Whether `path` exists and is a regular file (after symlinks); false on any error. */
export async function isRegularFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** Whether `path` exists (a dangling symlink or a permission error counts as existing). */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT');
}

/** Refuses anything at `path` but a regular file (after symlinks). */
export async function requireRegularFile(path: string, what: string): Promise<void> {
  const s = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`${path}: cannot read ${what} (${error.code ?? error.message})`);
  });
  if (!s.isFile()) throw new InputError(`${path}: ${what} must be a regular file, but it is ${kindOf(s)}`);
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkRegular(s: Stats, path: string, what: string, maxBytes: number): void {
  if (!s.isFile()) throw new InputError(`${path}: ${what} must be a regular file, but it is ${kindOf(s)}`);
  if (s.size > maxBytes) throw new InputError(`${path}: ${what} is ${s.size} bytes, more than the limit of ${maxBytes}`);
}

/**
 * The bytes of a regular file of at most `maxBytes`. `what` names the file in errors ("the
 * model's config.json"); a missing file is an InputError saying it cannot be read.
 */
export async function readBoundedFile(path: string, what: string, maxBytes: number): Promise<Uint8Array> {
  let before: Stats;
  try {
    before = await stat(path);
  } catch (error) {
    throw new InputError(`${path}: cannot read ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  checkRegular(before, path, what, maxBytes);
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO swapped in after the stat returns at once instead of waiting for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new InputError(`${path}: cannot read ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    checkRegular(await handle.stat(), path, what, maxBytes);
    // One byte more than allowed tells a file that grew past the cap since the stat.
    const out = new Uint8Array(Math.min(maxBytes + 1, Math.max(before.size, 0) + 1));
    let done = 0;
    for (;;) {
      if (done === out.length) break;
      const { bytesRead } = await handle.read(out, done, out.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done > maxBytes) throw new InputError(`${path}: ${what} is more than the limit of ${maxBytes} bytes`);
    if (done === out.length) throw new InputError(`${path}: ${what} changed while it was read`);
    return out.subarray(0, done);
  } finally {
    await handle.close();
  }
}

/** A bounded regular file as UTF-8 text parsed as JSON; errors name the file. */
export async function readBoundedJson(path: string, what: string, maxBytes: number): Promise<unknown> {
  return parseJsonBytes(await readBoundedFile(path, what, maxBytes), path, what);
}

/** Writes beside the target, then renames: a reader never sees a half-written file. */
export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
