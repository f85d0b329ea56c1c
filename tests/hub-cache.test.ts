/**
 * `--model ORG/NAME` resolves a Hugging Face hub cache offline: HF_HUB_CACHE, HF_HOME/hub, the
 * default ~/.cache/huggingface/hub; refs/main → snapshots/<commit>, whose files are symlinks into
 * blobs/ (as huggingface_hub writes them). Unknown names fail with every directory tried.
 */
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../lrp/cli/run.js';
import { hubCacheRoots, resolveModelDir } from '../nn/hub-cache.js';
import { modelDir, readReference } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A cache root holding `models--org--name` with the fixture `fixture` as its main snapshot. */
function fakeCache(org: string, name: string, fixture: string, options: { refsMain?: boolean } = {}): string {
  const root = tempDir('lrp-hub-');
  const repo = join(root, `models--${org}--${name}`);
  const snapshot = join(repo, 'snapshots', COMMIT);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [i, file] of readdirSync(modelDir(fixture)).entries()) {
    const blob = `blob${i}`;
    copyFileSync(join(modelDir(fixture), file), join(repo, 'blobs', blob));
    symlinkSync(join('..', '..', 'blobs', blob), join(snapshot, file));
  }
  if (options.refsMain ?? true) {
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), COMMIT);
  }
  return root;
}

describe('resolveModelDir', () => {
  it('a directory is itself', () => {
    expect(resolveModelDir(modelDir('gpt2'), {}, '/nowhere')).toBe(modelDir('gpt2'));
  });

  it('ORG/NAME through HF_HUB_CACHE, refs/main and the snapshot folder', () => {
    const root = fakeCache('tiny-org', 'tiny-llama', 'llama');
    expect(resolveModelDir('tiny-org/tiny-llama', { HF_HUB_CACHE: root }, '/nowhere')).toBe(join(root, 'models--tiny-org--tiny-llama', 'snapshots', COMMIT));
  });

  it('HF_HOME/hub, then the default under the home directory', () => {
    const home = tempDir('lrp-home-');
    const hfHome = join(home, 'hf');
    mkdirSync(hfHome);
    const root = fakeCache('a', 'b', 'gpt2');
    symlinkSync(root, join(hfHome, 'hub'));
    expect(resolveModelDir('a/b', { HF_HOME: hfHome }, '/nowhere')).toContain(join(hfHome, 'hub', 'models--a--b', 'snapshots'));
    mkdirSync(join(home, '.cache', 'huggingface'), { recursive: true });
    symlinkSync(root, join(home, '.cache', 'huggingface', 'hub'));
    expect(resolveModelDir('a/b', {}, home)).toBe(join(home, '.cache', 'huggingface', 'hub', 'models--a--b', 'snapshots', COMMIT));
    expect(hubCacheRoots({ HF_HUB_CACHE: '/x', HF_HOME: '/y' }, '/h')).toEqual(['/x', '/y/hub', '/h/.cache/huggingface/hub']);
  });

  it('an explicit revision (commit), and a single snapshot without refs/main', () => {
    const root = fakeCache('o', 'n', 'gpt2', { refsMain: false });
    const env = { HF_HUB_CACHE: root };
    const snapshot = join(root, 'models--o--n', 'snapshots', COMMIT);
    expect(resolveModelDir(`o/n@${COMMIT}`, env, '/nowhere')).toBe(snapshot);
    expect(resolveModelDir('o/n', env, '/nowhere')).toBe(snapshot);
  });

  it('an unknown repository names every directory tried', () => {
    const root = tempDir('lrp-hub-empty-');
    const home = tempDir('lrp-home-');
    let message = '';
    try {
      resolveModelDir('meta-llama/Llama-3.2-1B', { HF_HUB_CACHE: root, HF_HOME: '/opt/hf' }, home);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/meta-llama\/Llama-3.2-1B: not a directory, and not in a local Hugging Face cache/);
    for (const dir of [root, '/opt/hf/hub', join(home, '.cache', 'huggingface', 'hub')]) {
      expect(message).toContain(join(dir, 'models--meta-llama--Llama-3.2-1B'));
    }
  });
});

describe('lrp --model ORG/NAME', () => {
  const run = async (...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
  };

  it('loads the cached snapshot (symlinked files) and matches the fixture', async () => {
    const root = fakeCache('tiny-org', 'tiny-gpt2', 'gpt2');
    const saved = process.env['HF_HUB_CACHE'];
    process.env['HF_HUB_CACHE'] = root;
    try {
      const ref = readReference('gpt2');
      const { code, stdout } = await run('forward', '--model', 'tiny-org/tiny-gpt2', '--ids', ref.input_ids![0]!.join(','));
      expect(code).toBe(0);
      const logits = (JSON.parse(stdout) as { logits: number[] }).logits;
      logits.forEach((v, i) => expect(v).toBeCloseTo(ref.logits_last![i]!, 3));
      const missing = await run('forward', '--model', 'tiny-org/absent', '--ids', '1');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(join(root, 'models--tiny-org--absent'));
      expect(missing.stdout).toBe('');
    } finally {
      if (saved === undefined) delete process.env['HF_HUB_CACHE'];
      else process.env['HF_HUB_CACHE'] = saved;
    }
  });
});
