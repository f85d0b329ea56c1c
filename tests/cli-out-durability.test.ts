/**
 * The atomic replace of --out is durable (issue 9): the temporary file is fsynced before the
 * rename and the directory after it, so a crash leaves the old file or the new one, complete.
 * node:fs/promises is wrapped to record the order of those calls; the files are real.
 */
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from './helpers/tempdir.js';

const calls: string[] = [];

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const name = (path: unknown): string => String(path).split('/').pop()!.replace(/\.\d+\.[a-z0-9]+\.tmp$/, '.TMP');
  return {
    ...fs,
    open: async (path: string, flags?: string | number, mode?: number) => {
      const handle = await fs.open(path, flags, mode);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        calls.push(`fsync ${name(path)}`);
        return sync();
      };
      return handle;
    },
    rename: async (from: string, to: string) => {
      calls.push(`rename ${name(from)} -> ${name(to)}`);
      return fs.rename(from, to);
    },
  };
});

const { writeOut } = await import('../lrp/cli/output.js');

describe('--out: atomic replace of a regular file', () => {
  it('fsyncs the temporary file, renames it over the target, then fsyncs the directory', async () => {
    const dir = tempDir('lrp-durable-');
    const out = join(dir, 'e.json');
    writeFileSync(out, 'old');
    chmodSync(out, 0o666);
    calls.length = 0;
    await writeOut(out, 'new', { followSymlinks: false });
    const dirName = dir.split('/').pop()!;
    expect(calls).toEqual(['fsync .e.json.TMP', 'rename .e.json.TMP -> e.json', `fsync ${dirName}`]);
    expect(readFileSync(out, 'utf8')).toBe('new');
    // The umask (022 here) would make a new file 644: the replaced file's 666 is kept.
    expect(statSync(out).mode & 0o7777).toBe(0o666);
    expect(readdirSync(dir)).toEqual(['e.json']);
  });

  it('writes a character device in place: no temporary file, no rename', async () => {
    calls.length = 0;
    await writeOut('/dev/null', 'new', { followSymlinks: false });
    expect(calls).toEqual([]);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
