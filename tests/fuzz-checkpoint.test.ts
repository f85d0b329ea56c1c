/**
 * Property test: hostile checkpoints. Copies of the fixture models get their safetensors header
 * (length prefix, entries, JSON text, raw bytes), their config.json (values of every type, missing
 * and extra keys, broken JSON) and their shard index mutated; loadModel, and a forward when it
 * loads, must then either succeed or throw an InputError with a message: never another error type,
 * never a hang, and no runaway memory. FUZZ_RUNS and FUZZ_SEED (fast-check's seed, printed on a
 * failure) reproduce or extend a run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/graph.js';
import { tidy } from '../autograd/scope.js';
import { InputError } from '../kernels/errors.js';
import { loadModel } from '../nn/folder.js';
import type { TransformerModel } from '../nn/models/types.js';
import { gpu } from './helpers/gpu.js';
import { modelDir, referenceInput } from './helpers/fixtures.js';
import { tempDir } from './helpers/tempdir.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
/** Far above what any case needs (tens of milliseconds); reaching it means a hang. */
const CASE_TIMEOUT_MS = 10_000;
/** Resident memory may grow by this much over the whole run (the models are a few hundred KB). */
const RSS_GROWTH_LIMIT = 512 * 2 ** 20;

const FIXTURES = ['gpt2', 'llama', 'bert', 'vit', 'llama-sharded'] as const;
type Fixture = (typeof FIXTURES)[number];

/** The files of each fixture, read once. */
const files = new Map<Fixture, Map<string, Uint8Array>>();

beforeAll(async () => {
  await gpu();
  for (const name of FIXTURES) {
    const dir = modelDir(name);
    files.set(name, new Map(readdirSync(dir).filter((f) => f !== 'reference.json').map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))])));
  }
});

// ---------------------------------------------------------------------------------------------
// Mutations, as plain data so that fast-check prints a failing case readably.

/** A JSON value of any type, biased towards the edges of sizes and numbers. */
const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 3, 0.5, -0, 1e-300, 1e9, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, 96, 32, 64, 128, 8, 24),
  fc.integer({ min: -5, max: 300 }),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('llama', 'gpt2', 'bert', 'vit', 'qwen2', 'mistral', '__proto__', 'constructor', 'toString', 'gelu', 'silu', 'sinusoidal'),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -3, max: 200 }), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const DELETE = '<delete>';

const CONFIG_KEYS = [
  'model_type', 'n_layer', 'num_hidden_layers', 'vocab_size', 'hidden_size', 'n_embd', 'n_head', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'intermediate_size', 'n_inner', 'n_positions', 'max_position_embeddings',
  'layer_norm_epsilon', 'layer_norm_eps', 'rms_norm_eps', 'rope_theta', 'partial_rotary_factor', 'rope_scaling',
  'tie_word_embeddings', 'attention_bias', 'mlp_bias', 'hidden_act', 'activation_function', 'position_embedding_type',
  'type_vocab_size', 'num_labels', 'id2label', 'image_size', 'patch_size', 'num_channels', 'qkv_bias', 'sliding_window',
  '__proto__', 'constructor',
];

type Mutation =
  | { kind: 'config-key'; key: string; value: unknown }
  | { kind: 'config-text'; at: number; insert: string }
  | { kind: 'config-whole'; value: unknown }
  | { kind: 'header-length'; value: bigint }
  | { kind: 'header-entry'; tensor: number; field: string; value: unknown }
  | { kind: 'header-text'; at: number; remove: number; insert: string }
  | { kind: 'bytes'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'index-entry'; tensor: number; value: unknown };

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('config-key' as const), key: fc.constantFrom(...CONFIG_KEYS), value: fc.oneof(jsonValue, fc.constant(DELETE)) }),
  fc.record({ kind: fc.constant('config-key' as const), key: fc.constantFrom(...CONFIG_KEYS), value: jsonValue }),
  fc.record({ kind: fc.constant('config-text' as const), at: fraction, insert: fc.constantFrom('', ',', '}', '{', '"', ']', 'x', '\u0000', '\uffff') }),
  fc.record({ kind: fc.constant('config-whole' as const), value: jsonValue }),
  fc.record({
    kind: fc.constant('header-length' as const),
    value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n, 7n, 100_000_000n, 100_000_001n, 2n ** 30n, 2n ** 31n, 2n ** 32n, 2n ** 63n), fc.bigInt({ min: 0n, max: 4096n })),
  }),
  fc.record({
    kind: fc.constant('header-entry' as const),
    tensor: fc.nat(),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'data_offsets', 'shape', '<delete-key>', '<entry>', '<rename>', '<remove>', '__metadata__'),
    value: fc.oneof(
      jsonValue,
      fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'dtype', 'shape', 'data_offsets'),
      fc.array(fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constantFrom(2 ** 31, 2 ** 53, 1e300, 0.5, 0)), { maxLength: 5 }),
      fc.tuple(fc.integer({ min: -8, max: 100_000 }), fc.integer({ min: -8, max: 100_000 })),
    ),
  }),
  fc.record({ kind: fc.constant('header-text' as const), at: fraction, remove: fc.nat({ max: 4 }), insert: fc.constantFrom('', ',', '}', '{', '"', '[', '9', '\u00ff', '\ud800') }),
  fc.record({ kind: fc.constant('bytes' as const), at: fraction, value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
  fc.record({ kind: fc.constant('index-entry' as const), tensor: fc.nat(), value: fc.oneof(jsonValue, fc.constantFrom('../../../../etc/passwd', '/etc/passwd', '.', '..', 'model.safetensors', 'config.json', 'model-00001-of-00002.safetensors', 'missing.safetensors')) }),
);

function checkpointFile(model: Map<string, Uint8Array>, pick: number): string {
  const names = [...model.keys()].filter((f) => f.endsWith('.safetensors')).sort();
  return names[pick % names.length]!;
}

function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  if (bytes.length < 8) throw new Error('too short');
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + length) };
}

function joinSafetensors(headerText: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + headerText.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerText.length), true);
  out.set(headerText, 8);
  out.set(data, 8 + headerText.length);
  return out;
}

function editJson(bytes: Uint8Array, edit: (json: Record<string, unknown>) => void): Uint8Array {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return bytes; // an earlier mutation broke it already
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return bytes;
  edit(json as Record<string, unknown>);
  return new TextEncoder().encode(JSON.stringify(json));
}

/** Sets an own property, even one named __proto__ (plain assignment would change the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}

function applyMutation(model: Map<string, Uint8Array>, m: Mutation, pick: number): void {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const encode = (s: string) => new TextEncoder().encode(s);
  switch (m.kind) {
    case 'config-key':
      model.set('config.json', editJson(model.get('config.json')!, (c) => (m.value === DELETE ? delete c[m.key] : setOwn(c, m.key, m.value))));
      return;
    case 'config-text': {
      const s = text(model.get('config.json')!);
      const at = Math.floor(m.at * s.length);
      model.set('config.json', encode(s.slice(0, at) + m.insert + s.slice(at + 1)));
      return;
    }
    case 'config-whole':
      model.set('config.json', encode(JSON.stringify(m.value) ?? ''));
      return;
    case 'index-entry': {
      const index = model.get('model.safetensors.index.json');
      if (!index) return;
      model.set('model.safetensors.index.json', editJson(index, (j) => {
        const map = j['weight_map'] as Record<string, unknown> | undefined;
        if (!map || typeof map !== 'object') return;
        const names = Object.keys(map);
        if (names.length > 0) setOwn(map, names[m.tensor % names.length]!, m.value);
      }));
      return;
    }
    default:
  }
  const file = checkpointFile(model, pick);
  const bytes = model.get(file)!;
  switch (m.kind) {
    case 'header-length': {
      const copy = new Uint8Array(Math.max(8, bytes.length));
      copy.set(bytes);
      new DataView(copy.buffer).setBigUint64(0, m.value, true);
      model.set(file, copy);
      return;
    }
    case 'header-entry': {
      let parts: ReturnType<typeof splitSafetensors>;
      try {
        parts = splitSafetensors(bytes);
      } catch {
        return;
      }
      const names = Object.keys(parts.header).filter((n) => n !== '__metadata__');
      const name = names[m.tensor % names.length]!;
      const entry = parts.header[name] as Record<string, unknown>;
      if (m.field === '<delete-key>') delete entry[['dtype', 'shape', 'data_offsets'][m.tensor % 3]!];
      else if (m.field === '<entry>') setOwn(parts.header, name, m.value);
      else if (m.field === '<rename>') {
        delete parts.header[name];
        setOwn(parts.header, String(m.value), entry);
      } else if (m.field === '<remove>') delete parts.header[name];
      else if (m.field === '__metadata__') setOwn(parts.header, '__metadata__', m.value);
      else setOwn(entry, m.field, m.value);
      model.set(file, joinSafetensors(encode(JSON.stringify(parts.header)), parts.data));
      return;
    }
    case 'header-text': {
      if (bytes.length < 8) return;
      const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
      if (length > bytes.length - 8) return;
      const header = text(bytes.subarray(8, 8 + length));
      const at = Math.floor(m.at * header.length);
      model.set(file, joinSafetensors(encode(header.slice(0, at) + m.insert + header.slice(at + m.remove)), bytes.subarray(8 + length)));
      return;
    }
    case 'bytes': {
      if (bytes.length === 0) return;
      const copy = bytes.slice();
      copy[Math.min(Math.floor(m.at * copy.length), copy.length - 1)] = m.value;
      model.set(file, copy);
      return;
    }
    case 'truncate':
      model.set(file, bytes.subarray(0, Math.floor(m.at * bytes.length)));
      return;
  }
}

// ---------------------------------------------------------------------------------------------

async function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${CASE_TIMEOUT_MS} ms (a hang)`)), CASE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Loads and runs the mutated model; returns what happened, or throws if the failure was not an InputError. */
async function loadAndRun(dir: string, fixture: Fixture): Promise<'ran' | 'refused'> {
  let model: TransformerModel;
  try {
    model = await withTimeout(loadModel(dir), 'loadModel');
  } catch (error) {
    expectInputError(error);
    return 'refused';
  }
  try {
    const logits = noGrad(() => tidy(() => model.forward(referenceInput(fixture))));
    await withTimeout(logits.toArray(), 'forward');
    logits.dispose();
    return 'ran';
  } catch (error) {
    expectInputError(error);
    return 'refused';
  } finally {
    model.dispose();
  }
}

function expectInputError(error: unknown): void {
  if (!(error instanceof InputError)) throw new Error(`expected an InputError, got ${String(error)}\n${(error as Error).stack ?? ''}`);
  expect(error.message.length).toBeGreaterThan(10);
}

describe('hostile checkpoints: load or a precise InputError, in bounded time and memory', () => {
  it('mutated headers, configs and shard indexes', async () => {
    const root = tempDir('lrp-fuzz-');
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const outcomes = { ran: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat(), async (fixture, mutations, pick) => {
        const model = new Map(files.get(fixture)!);
        for (const m of mutations) applyMutation(model, m, pick);
        const dir = mkdtempSync(join(root, `${fixture}-`));
        try {
          for (const [name, bytes] of model) writeFileSync(join(dir, name), bytes);
          outcomes[await loadAndRun(dir, fixture)]++;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        peak = Math.max(peak, process.memoryUsage().rss);
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    if (process.env['FUZZ_VERBOSE']) console.log(outcomes, (peak - rssBefore) / 2 ** 20, 'MB');
    expect(peak - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT);
    // The mutations must exercise both outcomes, or the property says little.
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.ran + outcomes.refused).toBe(RUNS);
  });
});
