/**
 * `--out` by the kind of thing the path names (issue 9): regular files are replaced atomically
 * with their mode kept, devices and FIFOs are written in place, symbolic links are refused unless
 * followed, and nothing is written (stdout or --out) when the command fails.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const explainTo = (out: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  runCli('explain', '--model', modelDir('gpt2'), '--ids', '4,34,20', '--method', 'cp-lrp', '--out', out, ...extra);

const isExplanation = (text: string): boolean => (JSON.parse(text) as { method?: string }).method === 'cp-lrp';

describe('--out: regular files are replaced atomically', () => {
  it('keeps the mode of the file it replaces and leaves no temporary file', async () => {
    const dir = tempDir('lrp-out-');
    const out = join(dir, 'e.json');
    writeFileSync(out, 'old');
    chmodSync(out, 0o600);
    const { code, stdout } = await explainTo(out);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(isExplanation(readFileSync(out, 'utf8'))).toBe(true);
    expect(statSync(out).mode & 0o7777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['e.json']);
  });

  it('creates a new file', async () => {
    const out = join(tempDir('lrp-out-'), 'new.json');
    expect((await explainTo(out)).code).toBe(0);
    expect(lstatSync(out).isFile()).toBe(true);
    expect(isExplanation(readFileSync(out, 'utf8'))).toBe(true);
  });
});

describe('--out: symbolic links', () => {
  it('refuses a symbolic link without --follow-symlinks and touches neither link nor target', async () => {
    const dir = tempDir('lrp-out-');
    const target = join(dir, 'target.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'precious');
    symlinkSync('target.json', link);
    const { code, stdout, stderr } = await explainTo(link);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: --out .*link\.json: is a symbolic link \(to target\.json\); pass --follow-symlinks/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('precious');
  });

  it('with --follow-symlinks writes the target by the same rules (mode kept) and keeps the link', async () => {
    const dir = tempDir('lrp-out-');
    mkdirSync(join(dir, 'sub'));
    const target = join(dir, 'sub', 'target.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    symlinkSync('sub/target.json', link);
    expect((await explainTo(link, '--follow-symlinks')).code).toBe(0);
    expect(readlinkSync(link)).toBe('sub/target.json');
    expect(isExplanation(readFileSync(target, 'utf8'))).toBe(true);
    expect(statSync(target).mode & 0o7777).toBe(0o640);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['target.json']);
  });

  it('with --follow-symlinks creates the missing target of a dangling link', async () => {
    const dir = tempDir('lrp-out-');
    const link = join(dir, 'link.json');
    symlinkSync('made.json', link);
    expect((await explainTo(link, '--follow-symlinks')).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(isExplanation(readFileSync(join(dir, 'made.json'), 'utf8'))).toBe(true);
  });

  it('with --follow-symlinks refuses a loop of links (exit 2)', async () => {
    const dir = tempDir('lrp-out-');
    symlinkSync('b', join(dir, 'a'));
    symlinkSync('a', join(dir, 'b'));
    const { code, stderr } = await explainTo(join(dir, 'a'), '--follow-symlinks');
    expect(code).toBe(2);
    expect(stderr).toMatch(/more than 40 symbolic links/);
    expect(readdirSync(dir).sort()).toEqual(['a', 'b']);
  });

  it('--follow-symlinks without --out is a usage error', async () => {
    const { code, stderr } = await runCli('explain', '--model', modelDir('gpt2'), '--ids', '1', '--method', 'gi', '--follow-symlinks');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^lrp: --follow-symlinks applies to --out FILE/);
  });
});

describe('--out: devices, FIFOs and descriptors are written in place', () => {
  it('/dev/null stays a character device', async () => {
    expect((await explainTo('/dev/null')).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('/dev/full: disk full is a failed computation (exit 1), not bad input', async () => {
    const { code, stdout, stderr } = await explainTo('/dev/full');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: --out \/dev\/full: writing failed \(.*ENOSPC/);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('a FIFO is written to its reader, and stays a FIFO', async () => {
    const fifo = join(tempDir('lrp-out-'), 'pipe');
    execFileSync('mkfifo', [fifo]);
    const chunks: Buffer[] = [];
    const read = new Promise<string>((resolve, reject) => {
      createReadStream(fifo)
        .on('data', (c) => chunks.push(c as Buffer))
        .on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
        .on('error', reject);
    });
    const { code } = await explainTo(fifo);
    expect(code).toBe(0);
    expect(isExplanation(await read)).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('/dev/stdout goes to the command\'s standard output', async () => {
    const { code, stdout } = await explainTo('/dev/stdout');
    expect(code).toBe(0);
    expect(isExplanation(stdout)).toBe(true);
  });

  it('refuses a directory and a path in a missing directory (exit 2)', async () => {
    const dir = tempDir('lrp-out-');
    const asDir = await explainTo(dir);
    expect(asDir.code).toBe(2);
    expect(asDir.stderr).toMatch(/is a directory/);
    const missing = await explainTo(join(dir, 'no', 'such', 'e.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^lrp: --out .*: cannot write \(.*ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('nothing is written on a non-zero exit', () => {
  it('a failed --assert-conservation leaves an existing --out untouched and prints nothing', async () => {
    const dir = tempDir('lrp-out-');
    const out = join(dir, 'e.json');
    writeFileSync(out, 'previous result');
    chmodSync(out, 0o600);
    // AttnLRP is not conservative on GPT-2 (softmax rule): a zero tolerance fails.
    const { code, stdout, stderr } = await runCli('explain', '--model', modelDir('gpt2'), '--ids', '4,34,20,22', '--method', 'attnlrp', '--assert-conservation', '0', '--out', out);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: conservation: unexplained share \S+ exceeds --assert-conservation 0\n$/);
    expect(readFileSync(out, 'utf8')).toBe('previous result');
    expect(statSync(out).mode & 0o7777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['e.json']);
  });

  it('a failed --assert-conservation prints nothing on stdout without --out', async () => {
    const { code, stdout } = await runCli('explain', '--model', modelDir('gpt2'), '--ids', '4,34,20,22', '--method', 'attnlrp', '--assert-conservation', '0');
    expect(code).toBe(1);
    expect(stdout).toBe('');
  });

  it('bad input leaves an existing --out untouched', async () => {
    const out = join(tempDir('lrp-out-'), 'e.json');
    writeFileSync(out, 'previous result');
    const { code } = await explainTo(out, '--target', '500');
    expect(code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('previous result');
    expect(existsSync(out)).toBe(true);
  });
});
