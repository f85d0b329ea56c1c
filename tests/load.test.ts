import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runtime } from '../kernels/runtime.js';
import { loadModel } from '../nn/load.js';
import { parseSafetensors } from '../nn/safetensors.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';
import { modelDir } from './helpers/fixtures.js';
import { writeSafetensors, type TensorToWrite } from './helpers/safetensors.js';

beforeAll(async () => {
  await gpu();
});

/** A private copy of a fixture model that a test may corrupt. */
function copyOf(name: string): string {
  const dir = tempDir(`lrp-${name}-`);
  cpSync(modelDir(name), dir, { recursive: true });
  return dir;
}

function tensorsOf(dir: string): TensorToWrite[] {
  const file = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors');
  return [...file.tensors.values()].map((info) => ({ name: info.name, shape: [...info.shape], data: file.getFloat32(info.name) }));
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
}

/** Loading must fail with `message` and leave no GPU buffer behind. */
async function expectLoadError(dir: string, message: RegExp, options: Parameters<typeof loadModel>[1] = {}): Promise<void> {
  const before = runtime().memory().liveBytes;
  await expect(loadModel(dir, options)).rejects.toThrow(message);
  expect(runtime().memory().liveBytes).toBe(before);
}

describe('loadModel refuses malformed checkpoints with an error naming the problem', () => {
  it('unknown model_type', async () => {
    const dir = copyOf('gpt2');
    editConfig(dir, (c) => (c['model_type'] = 'gpt5'));
    await expectLoadError(dir, /unknown model_type "gpt5".*supported: llama/);
  });

  it('config.json that is not JSON', async () => {
    const dir = copyOf('gpt2');
    writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2",');
    await expectLoadError(dir, /config\.json: not valid JSON/);
  });

  it('a config key of the wrong type', async () => {
    const dir = copyOf('gpt2');
    editConfig(dir, (c) => (c['n_embd'] = 'wide'));
    await expectLoadError(dir, /n_embd must be a non-negative integer/);
  });

  it('shape mismatch against the config', async () => {
    const dir = copyOf('gpt2');
    editConfig(dir, (c) => (c['vocab_size'] = 97));
    await expectLoadError(dir, /transformer\.wte\.weight has shape \[96, 32\], but config\.json implies \[97, 32\]/);
  });

  it('a missing tensor', async () => {
    const dir = copyOf('gpt2');
    writeSafetensors(join(dir, 'model.safetensors'), tensorsOf(dir).filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.bias'));
    await expectLoadError(dir, /missing from the checkpoint: transformer\.h\.1\.mlp\.c_fc\.bias/);
  });

  it('an unexpected tensor', async () => {
    const dir = copyOf('gpt2');
    writeSafetensors(join(dir, 'model.safetensors'), [...tensorsOf(dir), { name: 'transformer.h.9.extra', shape: [2], data: new Float32Array(2) }]);
    await expectLoadError(dir, /unexpected tensor\(s\) in the checkpoint: transformer\.h\.9\.extra/);
  });

  it('a header length beyond the file', async () => {
    const dir = copyOf('gpt2');
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    await expectLoadError(dir, /model\.safetensors/);
  });

  it('offsets out of range', async () => {
    const dir = copyOf('gpt2');
    writeSafetensors(join(dir, 'model.safetensors'), tensorsOf(dir), (h) => {
      const entry = h['transformer.ln_f.bias'] as { data_offsets: number[] };
      entry.data_offsets = [entry.data_offsets[0]!, entry.data_offsets[1]! + 1_000_000];
    });
    await expectLoadError(dir, /transformer\.ln_f\.bias/);
  });

  it('an unknown dtype', async () => {
    const dir = copyOf('gpt2');
    writeSafetensors(join(dir, 'model.safetensors'), tensorsOf(dir), (h) => {
      (h['transformer.ln_f.bias'] as { dtype: string }).dtype = 'F8_E4M3';
    });
    await expectLoadError(dir, /F8_E4M3/);
  });

  it('a failure during upload releases what was uploaded', async () => {
    let calls = 0;
    await expectLoadError(modelDir('gpt2'), /stop after three/, {
      onProgress: () => {
        if (++calls === 3) throw new Error('stop after three');
      },
    });
  });
});
