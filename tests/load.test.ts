import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../kernels/errors.js';
import { runtime } from '../kernels/runtime.js';
import { ConfigReader } from '../nn/config.js';
import { buildModel } from '../nn/load.js';
import { loadModel } from '../nn/folder.js';
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

/** Loading must fail with an InputError saying `message`, and leave no GPU buffer behind. */
async function expectLoadError(dir: string, message: RegExp, options: Parameters<typeof loadModel>[1] = {}, type: Function = InputError): Promise<void> {
  const before = runtime().memory().liveBytes;
  const failure = loadModel(dir, options);
  await expect(failure).rejects.toThrow(message);
  await expect(failure).rejects.toBeInstanceOf(type);
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
    }, Error);
  });

  it('a non-finite weight', async () => {
    const dir = copyOf('gpt2');
    const tensors = tensorsOf(dir);
    tensors.find((t) => t.name === 'transformer.ln_f.bias')!.data[3] = Number.NaN;
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await expectLoadError(dir, /tensor transformer\.ln_f\.bias holds a non-finite value \(NaN\) at element 3/);
    tensors.find((t) => t.name === 'transformer.ln_f.bias')!.data[3] = -Infinity;
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await expectLoadError(dir, /ln_f\.bias holds a non-finite value \(-Infinity\)/);
  });
});

describe('model_type is looked up as an own property of the registry', () => {
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`"${name}" is an unknown model_type`, async () => {
      const dir = copyOf('gpt2');
      editConfig(dir, (c) => Object.defineProperty(c, 'model_type', { value: name, enumerable: true }));
      await expectLoadError(dir, new RegExp(`unknown model_type "${name}" \\(supported: llama`));
    });
  }
});

describe('config sizes are checked against the checkpoint before any module is built', () => {
  it('n_layer: 1e9 fails at once, naming the key and how many layers the checkpoint has', async () => {
    const dir = copyOf('gpt2');
    editConfig(dir, (c) => (c['n_layer'] = 1e9));
    await expectLoadError(dir, /config\.json: n_layer is 1000000000, but the tensor names of .* number at most 2 layers/);
    editConfig(dir, (c) => (c['n_layer'] = 3));
    await expectLoadError(dir, /n_layer is 3, but the tensor names .* number at most 2 layers/);
  });

  it('buildModel (config.json alone, no checkpoint to compare with) caps layers at 4096', async () => {
    const dir = copyOf('gpt2');
    editConfig(dir, (c) => (c['n_layer'] = 1e9));
    expect(() => buildModel(new ConfigReader(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>, 'c.json'))).toThrow(
      /c\.json: n_layer is 1000000000, more than the limit of 4096 layers/,
    );
  });

  it('num_hidden_layers of every other family', async () => {
    for (const name of ['llama', 'bert', 'vit']) {
      const dir = copyOf(name);
      editConfig(dir, (c) => (c['num_hidden_layers'] = 4096));
      await expectLoadError(dir, /num_hidden_layers is 4096, but the tensor names .* number at most 2 layers/);
    }
  });

  it('a dimension larger than any tensor dimension', async () => {
    const cases: [string, string, number][] = [
      ['gpt2', 'n_embd', 4096], ['gpt2', 'vocab_size', 50257], ['gpt2', 'n_inner', 11008], ['gpt2', 'n_head', 129],
      ['llama', 'intermediate_size', 1e6], ['llama', 'num_key_value_heads', 1000], ['llama', 'head_dim', 4096],
      ['bert', 'type_vocab_size', 1e5], ['bert', 'num_labels', 1e6], ['vit', 'patch_size', 1000], ['vit', 'num_channels', 1e4],
    ];
    for (const [model, key, value] of cases) {
      const dir = copyOf(model);
      editConfig(dir, (c) => (c[key] = value));
      await expectLoadError(dir, new RegExp(`config\\.json: ${key} is ${value}, larger than every dimension of every tensor in .* \\(the largest is \\d+\\)`));
    }
  });

  it('non-integer, negative, huge and non-numeric sizes, with the key named', async () => {
    const dir = copyOf('gpt2');
    for (const value of [32.5, -4, 'wide', true, [32], { n: 32 }]) {
      editConfig(dir, (c) => (c['n_embd'] = value));
      await expectLoadError(dir, /config\.json: n_embd must be a non-negative integer, got /);
    }
    editConfig(dir, (c) => (c['n_embd'] = 1e300));
    await expectLoadError(dir, /config\.json: n_embd is 1e\+300, more than the limit of 2147483647/);
    editConfig(dir, (c) => (c['n_embd'] = 0));
    await expectLoadError(dir, /n_embd must be positive/);
  });

  it('an empty id2label', async () => {
    const dir = copyOf('bert');
    editConfig(dir, (c) => {
      delete c['num_labels'];
      c['id2label'] = {};
    });
    await expectLoadError(dir, /config\.json: id2label is empty/);
  });
});

describe('config values are validated, naming the key and the file', () => {
  const cases: [string, string, unknown, RegExp][] = [
    ['gpt2', 'layer_norm_epsilon', -1, /layer_norm_epsilon must be greater than 0, got -1/],
    ['gpt2', 'layer_norm_epsilon', 0, /layer_norm_epsilon must be greater than 0, got 0/],
    ['bert', 'layer_norm_eps', -1e-12, /layer_norm_eps must be greater than 0/],
    ['vit', 'layer_norm_eps', 0, /layer_norm_eps must be greater than 0/],
    ['llama', 'rms_norm_eps', 0, /rms_norm_eps must be greater than 0/],
    ['llama', 'rope_theta', 0, /rope_theta must be greater than 0, got 0/],
    ['qwen2', 'rope_theta', -10000, /rope_theta must be greater than 0/],
    ['llama', 'partial_rotary_factor', 0, /partial_rotary_factor must be in \(0, 1\], got 0/],
    ['llama', 'partial_rotary_factor', 1.5, /partial_rotary_factor must be in \(0, 1\]/],
    ['llama', 'rope_theta', 'big', /rope_theta must be a finite number, got "big"/],
  ];
  for (const [model, key, value, message] of cases) {
    it(`${model}: ${key} = ${JSON.stringify(value)}`, async () => {
      const dir = copyOf(model);
      editConfig(dir, (c) => (c[key] = value));
      await expectLoadError(dir, new RegExp(`${dir}/config\\.json: ${message.source}`));
    });
  }

  it('a value that overflows to Infinity', async () => {
    const dir = copyOf('llama');
    const path = join(dir, 'config.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"rms_norm_eps": 1e-06', '"rms_norm_eps": 1e999'));
    await expectLoadError(dir, /rms_norm_eps must be a finite number, got null/);
  });
});

describe('config.json must be a bounded regular file', () => {
  it('a FIFO is refused without blocking', async () => {
    const dir = copyOf('gpt2');
    rmSync(join(dir, 'config.json'));
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    await expectLoadError(dir, /config\.json: the model's config\.json must be a regular file, but it is a FIFO/);
  });

  it('a symlink to /dev/zero is refused', async () => {
    const dir = copyOf('gpt2');
    rmSync(join(dir, 'config.json'));
    symlinkSync('/dev/zero', join(dir, 'config.json'));
    await expectLoadError(dir, /config\.json: the model's config\.json must be a regular file, but it is a character device/);
  });

  it('a directory, and a file over 16 MiB, are refused', async () => {
    const dir = copyOf('gpt2');
    rmSync(join(dir, 'config.json'));
    cpSync(join(dir, 'model.safetensors'), join(dir, 'config.json', 'x'), { recursive: true });
    await expectLoadError(dir, /config\.json: the model's config\.json must be a regular file, but it is a directory/);
    rmSync(join(dir, 'config.json'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    truncateSync(join(dir, 'config.json'), 16 * 2 ** 20 + 1);
    await expectLoadError(dir, /config\.json: the model's config\.json is 16777217 bytes, more than the limit of 16777216/);
  });

  it('a missing config.json', async () => {
    const dir = copyOf('gpt2');
    rmSync(join(dir, 'config.json'));
    await expectLoadError(dir, /config\.json: cannot read the model's config\.json \(ENOENT\)/);
  });
});
