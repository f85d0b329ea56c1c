/**
 * Non-finite results are errors (issue 9): a checkpoint with NaN/Inf weights, or a rule that
 * divides 0 by 0, ends with exit 1 and a message naming the first layer where the non-finite
 * value appeared; never `"logit": null` with exit 0, never an argmax over NaN.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ComputationError, InputError } from '../kernels/errors.js';
import { explain } from '../lrp/explain.js';
import { loadModel } from '../nn/folder.js';
import { runCli } from './helpers/cli.js';
import { modelDir } from './helpers/fixtures.js';
import { gpu } from './helpers/gpu.js';
import { tempDir } from './helpers/tempdir.js';

beforeAll(async () => {
  await gpu();
});

/** A copy of the GPT-2 fixture whose F32 tensors are edited by `edit(name, values)`. */
function editedGpt2(edit: (name: string, values: Float32Array) => void): string {
  const dir = join(tempDir('lrp-nonfinite-'), 'gpt2');
  cpSync(modelDir('gpt2'), dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(info.dtype).toBe('F32');
    const [begin, end] = info.data_offsets;
    const start = 8 + headerLength + begin;
    // A copy aligned for Float32Array, written back after the edit.
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + end - begin));
    edit(name, values);
    bytes.set(new Uint8Array(values.buffer), start);
  }
  writeFileSync(path, bytes);
  return dir;
}

describe('NaN/Inf weights', () => {
  it('are refused at load as bad input, naming the tensor', async () => {
    const dir = editedGpt2((name, v) => {
      if (name === 'transformer.h.1.attn.c_attn.weight') v[5] = Number.NaN;
    });
    const { code, stdout, stderr } = await runCli('explain', '--model', dir, '--ids', '4,34,20', '--method', 'cp-lrp');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: .*transformer\.h\.1\.attn\.c_attn\.weight/);
  });
});

describe('finite weights whose forward overflows', () => {
  // 3e38 is a finite f32, so the checkpoint loads. Every q, k and v of layer 1 gets 3e38·x₀, so
  // the attention scores q·k overflow to Inf and the softmax turns them into NaN.
  const nanInLayer1 = (): string =>
    editedGpt2((name, v) => {
      if (name === 'transformer.h.1.attn.c_attn.weight') v.fill(3e38, 0, 96); // input dim 0, every output
    });

  it('explain exits with 1, names the layer, and writes nothing', async () => {
    const out = join(tempDir('lrp-nonfinite-out-'), 'e.json');
    const { code, stdout, stderr } = await runCli('explain', '--model', nanInLayer1(), '--ids', '4,34,20', '--method', 'cp-lrp', '--out', out);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    // The NaN enters through layer 1's query/key/value projection, between layer 1's input and its softmax.
    expect(stderr).toMatch(/^lrp: the model's output is not finite \(logit \d+ is NaN\); the forward pass first produced a non-finite value between layers\.1 \(layer-input\) and transformer\.h\.1\.attn\.softmax \(softmax-input\)/);
  });

  it('forward exits with 1 and names the layer', async () => {
    const { code, stdout, stderr } = await runCli('forward', '--model', nanInLayer1(), '--ids', '4,34,20');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    // The forward's module-output taps narrow it down to the q/k/v projection itself.
    // (The tap just before it is layer 1's input norm or, where biases are tapped, c_attn's bias.)
    expect(stderr).toMatch(/first produced a non-finite value between \S+ \((module-output|bias)\) and layers\.1\.attn\.c_attn \(module-output\)/);
  });

  it('an overflow from the token embedding is named at the first layer it reaches', async () => {
    const dir = editedGpt2((name, v) => {
      if (name === 'transformer.wte.weight') v[34 * 32 + 3] = 3e38; // token 34, dim 3
    });
    const { code, stderr } = await runCli('explain', '--model', dir, '--ids', '4,34,20', '--method', 'gi', '--target', '3');
    expect(code).toBe(1);
    // The embedding itself is finite; its square in layer 0's LayerNorm is not.
    expect(stderr).toMatch(/first produced a non-finite value between layers\.0 \(layer-input\) and transformer\.h\.0\.attn\.softmax \(softmax-input\)/);
  });

  it('the library throws a ComputationError (no argmax over NaN)', async () => {
    const model = await loadModel(nanInLayer1());
    try {
      await expect(explain(model, { ids: [[4, 34, 20]] }, { method: 'gi' })).rejects.toThrow(ComputationError);
    } finally {
      model.dispose();
    }
  });
});

describe('non-finite relevance', () => {
  it('a 0/0 in the epsilon rule (epsilon 0, a unit whose output is exactly 0) exits with 1 naming layer 1', async () => {
    // Hidden unit 7 of layer 1's MLP gets zero weights and bias: z = 0, so z / (z + 0·sign z) = NaN,
    // below layer 1's output and above its attention (the MLP follows the attention in the block).
    const dir = editedGpt2((name, v) => {
      if (name === 'transformer.h.1.mlp.c_fc.weight') for (let row = 0; row < 32; row++) v[row * 128 + 7] = 0;
      if (name === 'transformer.h.1.mlp.c_fc.bias') v[7] = 0;
    });
    // The logits are finite: with the default epsilon the same explanation succeeds.
    expect((await runCli('explain', '--model', dir, '--ids', '4,34,20', '--method', 'attnlrp')).code).toBe(0);
    const { code, stdout, stderr } = await runCli('explain', '--model', dir, '--ids', '4,34,20', '--method', 'attnlrp', '--epsilon', '0');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lrp: relevance became non-finite between layers\.1 \(layer-output\) and transformer\.h\.1\.attn\.softmax \(softmax-output\) in the attnlrp backward pass/);
  });
});

describe('epsilon must be finite and >= 0', () => {
  for (const epsilon of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
    it(`explain() refuses epsilon ${epsilon} with an InputError`, async () => {
      const model = await loadModel(modelDir('gpt2'));
      try {
        const call = explain(model, { ids: [[4, 34]] }, { method: 'attnlrp', epsilon });
        await expect(call).rejects.toThrow(InputError);
        await expect(explain(model, { ids: [[4, 34]] }, { method: 'attnlrp', epsilon })).rejects.toThrow(/epsilon must be a finite number >= 0/);
      } finally {
        model.dispose();
      }
    });
  }

  for (const raw of ['NaN', 'Infinity', '-1', '1e999', '0x1']) {
    it(`the CLI refuses --epsilon=${raw} with exit 2`, async () => {
      const { code, stderr } = await runCli('explain', '--model', modelDir('gpt2'), '--ids', '4', '--method', 'attnlrp', `--epsilon=${raw}`);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^lrp: --epsilon/);
    });
  }
});

describe('explain() input errors are InputErrors', () => {
  it('unknown method, batch of two, empty input, id outside the vocabulary, target out of range', async () => {
    const model = await loadModel(modelDir('gpt2'));
    try {
      const cases: [Parameters<typeof explain>[1], Parameters<typeof explain>[2], RegExp][] = [
        [{ ids: [[1, 2]] }, { method: 'shap' as 'gi' }, /unknown method "shap"/],
        [{ ids: [[1, 2], [3, 4]] }, { method: 'gi' }, /one sequence at a time \(got a batch of 2\)/],
        [{ ids: [[]] }, { method: 'gi' }, /the input is empty/],
        [{ ids: [[1, 96]] }, { method: 'gi' }, /id 96 at position 1 is outside the vocabulary \(size 96\)/],
        [{ ids: [[1, 2.5]] }, { method: 'gi' }, /id 2\.5 at position 1 is outside the vocabulary/],
        [{ ids: [[1, 2]] }, { method: 'gi', target: 96 }, /target 96 is out of range/],
        [{ ids: [Array.from({ length: 33 }, () => 1)] }, { method: 'gi' }, /more than max_position_embeddings \(32\)/],
      ];
      for (const [input, options, message] of cases) {
        const call = explain(model, input, options);
        await expect(call).rejects.toThrow(InputError);
        await expect(explain(model, input, options)).rejects.toThrow(message);
      }
    } finally {
      model.dispose();
    }
  });
});

/** A copy of a fixture with one JSON file edited. */
function editedJson(model: string, file: string, edit: (json: Record<string, unknown>) => void): string {
  const dir = join(tempDir('lrp-config-'), model);
  cpSync(modelDir(model), dir, { recursive: true });
  const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(join(dir, file), JSON.stringify(json));
  return dir;
}

describe('invalid configuration values never give exit 0 with null results', () => {
  // Rejected when loading (exit 2) once config values are validated; caught as a non-finite
  // result (exit 1) otherwise. Either way: an lrp: message, nothing on stdout. (A negative
  // layer_norm_epsilon can stay finite, and wrong: only config validation catches it.)
  const png = join(tempDir('lrp-config-img-'), 'in.png');
  const image = new PNG({ width: 8, height: 8 });
  image.data.fill(200);
  writeFileSync(png, PNG.sync.write(image));
  const cases: [string, () => string, string[]][] = [
    ['rope_theta: 0', () => editedJson('llama', 'config.json', (c) => (c['rope_theta'] = 0)), ['--ids', '5,6,7,8']],
    ['image_std: [0, 0, 0]', () => editedJson('vit', 'preprocessor_config.json', (c) => (c['image_std'] = [0, 0, 0])), ['--image', png]],
  ];
  for (const [label, make, input] of cases) {
    it(label, async () => {
      const { code, stdout, stderr } = await runCli('explain', '--model', make(), ...input, '--method', 'cp-lrp');
      expect([1, 2]).toContain(code);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^lrp: \S/);
      expect(stderr).not.toMatch(/internal error/);
    });
  }
});
