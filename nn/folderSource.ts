/**
 * Node only: a model folder on disk as a ModelSource. Keeps the file-system safeguards of
 * nn/files.ts: only regular files are read (stat first, following the Hugging Face cache's
 * symlinks, then opened non-blocking so a FIFO swapped in cannot hang, and checked again on the
 * handle), small files are size-capped, and a shard the index names must resolve inside the
 * folder (or, in the hub cache's layout, inside its `blobs/`).
 */
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { exists, readBoundedFile, requireRegularFile } from './files.js';
import { SafetensorsError } from './safetensors.js';
import type { ModelSource, RandomAccessFile } from './source.js';

/** The files of folder `dir` (a path) as a ModelSource; messages name `join(dir, file)`. */
export function folderSource(dir: string): ModelSource {
  return {
    label: dir,
    locate: (name) => join(dir, name),
    exists: (name) => exists(join(dir, name)),
    readFile: (name, what, maxBytes) => readBoundedFile(join(dir, name), what, maxBytes),
    openFile: (name, what) => openRegularFile(join(dir, name), what),
    checkReferencedName: (name, referrer) => checkInsideFolder(dir, name, referrer),
  };
}

/** Opens a regular file for range reads; each read opens it again (non-blocking), so no descriptor stays open. */
async function openRegularFile(path: string, what: string): Promise<RandomAccessFile> {
  await requireRegularFile(path, what);
  // Non-blocking: a FIFO swapped in after the stat must not hang the open.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let size: number;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new SafetensorsError(`${path}: not a regular file`);
    size = stats.size;
  } finally {
    await handle.close();
  }
  return { size, read: (begin, end) => readRange(path, begin, end - begin) };
}

/** Reads `length` bytes at `position`, in chunks because one read() is capped below 2 GiB. */
async function readRange(path: string, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const chunk = 1 << 30;
    for (let done = 0; done < length; ) {
      const { bytesRead } = await handle.read(out, done, Math.min(chunk, length - done), position + done);
      if (bytesRead === 0) throw new SafetensorsError(`${path}: file ended early at byte ${position + done}`);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return out;
}

/**
 * A file the checkpoint names must stay inside the folder: no symlink whose target lies outside
 * it, except the Hugging Face hub cache's own layout (snapshots/<revision>/<file> →
 * ../../blobs/<hash>). A missing file passes here (the caller says it is missing).
 */
async function checkInsideFolder(dir: string, fileName: string, referrer: string): Promise<void> {
  const where = join(dir, referrer);
  const inside = (root: string, p: string): boolean => {
    const rel = relative(root, p);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  };
  if (!inside(resolve(dir), resolve(dir, fileName))) {
    throw new SafetensorsError(`${where}: shard ${JSON.stringify(fileName)} is not a file inside the checkpoint folder`);
  }
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(join(dir, fileName)), realpath(dir)]);
  } catch {
    return;
  }
  const hubBlobs = basename(dirname(root)) === 'snapshots' ? join(dirname(dirname(root)), 'blobs') : null;
  if (!inside(root, real) && !(hubBlobs !== null && inside(hubBlobs, real))) {
    throw new SafetensorsError(`${where}: shard ${fileName} is a symlink to ${real}, outside the checkpoint folder`);
  }
}
