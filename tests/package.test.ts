/**
 * The packed package, as an npm user gets it: what the tarball ships, and that its declarations
 * compile in a strict TypeScript consumer (nodenext, strict, no skipLibCheck). Packs the dist/
 * that `scripts/setup.sh` (or `npm run build`) built; the consumer's dependencies are linked from
 * this checkout's node_modules, so no registry is needed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

const CONSUMER = `
import { init, loadModel, explain, renderHtml, Tensor, tidy, withBackwardRules, InputError } from 'transformer-lrp';
import { runtime } from 'transformer-lrp/kernels';
import { matmul } from 'transformer-lrp/autograd';
import { LlamaForCausalLM } from 'transformer-lrp/nn';
import { epsilonRule } from 'transformer-lrp/lrp';
import { init as nodeInit, loadModelFromUrl, useDevice, type NodeRuntimeOptions } from 'transformer-lrp/node';

export async function run(dir: string): Promise<string> {
  await init();
  const model = await loadModel(dir);
  const e = await explain(model, { ids: [[1, 2, 3]] }, { method: 'pa-lrp' });
  const relevance: number = e.tokens[0]!.total;
  const buffer: GPUBuffer | undefined = undefined;
  const options: NodeRuntimeOptions = { backend: 'vulkan' };
  void [runtime, matmul, LlamaForCausalLM, epsilonRule, Tensor, tidy, withBackwardRules, InputError, buffer, relevance, nodeInit, loadModelFromUrl, useDevice, options];
  model.dispose();
  return renderHtml(e);
}
`;

let work = '';
let files: string[] = [];

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` (scripts/setup.sh does)');
  work = mkdtempSync(join(tmpdir(), 'lrp-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  const consumer = join(work, 'consumer');
  const installed = join(consumer, 'node_modules', 'transformer-lrp');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, packed[0]!.filename), '-C', installed, '--strip-components=1']);
  // The runtime dependencies as npm would install them, plus Node's types as a Node consumer has.
  for (const name of [...Object.keys(pkg.dependencies), '@types/node', 'undici-types']) {
    const link = join(consumer, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), link, 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'], skipLibCheck: false },
      files: ['consumer.ts'],
    }),
  );
  writeFileSync(join(consumer, 'consumer.ts'), CONSUMER);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the library, LICENSE and the guides, and no bench scripts, source maps or generated API docs', () => {
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/lrp/cli/main.js');
    expect(files).toContain('docs/rules.md');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/scripts/') || f.startsWith('dist/tests/'))).toEqual([]);
    // The trained demo models ship (lrp eval --task), without their optimizer state.
    expect(files).toContain('models/sentiment/model.safetensors');
    expect(files.filter((f) => f.endsWith('optimizer.safetensors') || f.endsWith('training_state.json'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('docs/api/'))).toEqual([]);
    // The browser bundle (the `browser` export) and the explorer page that `lrp serve` serves.
    for (const f of ['dist/browser/transformer-lrp.js', 'dist/browser/explorer/index.html', 'dist/browser/explorer/explorer.js', 'dist/browser/explorer/explorer.css', 'docs/explorer.md']) {
      expect(files).toContain(f);
    }
  });

  it("resolves 'transformer-lrp' to the Node entry in Node, and the core elsewhere", () => {
    const exportsMap = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, unknown>> }).exports;
    expect(exportsMap['.']!['default']).toBe('./dist/index.js');
    expect(exportsMap['.']!['node']).toEqual({ types: './dist/node.d.ts', default: './dist/node.js' });
    expect(exportsMap['./core']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    const probe =
      "const root = await import('transformer-lrp'); const node = await import('transformer-lrp/node'); const core = await import('transformer-lrp/kernels'); const portable = await import('transformer-lrp/core');" +
      "console.log(JSON.stringify({ sameInit: root.init === node.init, coreInit: root.init === core.initRuntime, folder: typeof root.loadModel, url: typeof root.loadModelFromUrl, useDevice: root.useDevice === core.useDevice, portableInit: portable.init === core.initRuntime, portableFolder: typeof portable.loadModel }));";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: join(work, 'consumer'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ sameInit: true, coreInit: false, folder: 'function', url: 'function', useDevice: true, portableInit: true, portableFolder: 'undefined' });
  });

  it('compiles in a strict nodenext consumer without skipLibCheck', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: join(work, 'consumer'), encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  });
});
