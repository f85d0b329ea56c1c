/**
 * Builds the hostile inputs of issue 9 next to a copy of the GPT-2, LLaMA and ViT fixtures and
 * times how long the loader takes to refuse each, in process (no Node start-up or GPU set-up in the
 * figure), with the resident-memory growth. The figures in docs/models.md come from this script:
 *
 *   npm run build && node dist/scripts/hostile-inputs.js
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync, ftruncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { loadModel } from '../nn/folder.js';
import { loadImage } from '../nn/image.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'fixtures', 'models');
const root = mkdtempSync(join(tmpdir(), 'lrp-hostile-'));

function copy(name: string, as: string): string {
  const dir = join(root, as);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

/** A sparse safetensors file of `size` bytes whose prefix claims a header of `headerLength` bytes. */
function sparseHeader(dir: string, headerLength: bigint, size: number): void {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, headerLength, true);
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  writeSync(fd, prefix);
  ftruncateSync(fd, size);
  closeSync(fd);
}

function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A black side×side RGB PNG: about 730 KB for 16000² pixels, 768 MB once decoded. */
function blackPng(side: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const body = new Uint8Array([...new TextEncoder().encode(type), ...data]);
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(body, 4);
    view.setUint32(8 + data.length, crc32(body));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, side);
  new DataView(ihdr.buffer).setUint32(4, side);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array(side * (1 + 3 * side)), { level: 9 });
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

const cases: [string, () => Promise<unknown>][] = [];

{
  const dir = copy('gpt2', 'header-2g');
  sparseHeader(dir, 2n ** 31n + 8n, 2 ** 31 + 64);
  cases.push(['safetensors header length 2^31 + 8 (sparse file)', () => loadModel(dir)]);
}
{
  const dir = copy('gpt2', 'header-1g');
  sparseHeader(dir, 2n ** 30n, 2 ** 30 + 64);
  cases.push(['safetensors header length 1 GiB (sparse file)', () => loadModel(dir)]);
}
{
  const dir = copy('gpt2', 'layers');
  editJson(join(dir, 'config.json'), (c) => (c['n_layer'] = 1e9));
  cases.push(['n_layer: 1e9', () => loadModel(dir)]);
}
{
  const dir = copy('gpt2', 'proto');
  editJson(join(dir, 'config.json'), (c) => (c['model_type'] = '__proto__'));
  cases.push(['model_type: "__proto__"', () => loadModel(dir)]);
}
{
  const dir = copy('gpt2', 'fifo');
  rmSync(join(dir, 'config.json'));
  execFileSync('mkfifo', [join(dir, 'config.json')]);
  cases.push(['config.json is a FIFO', () => loadModel(dir)]);
}
{
  const dir = copy('gpt2', 'zero');
  rmSync(join(dir, 'config.json'));
  symlinkSync('/dev/zero', join(dir, 'config.json'));
  cases.push(['config.json is a symlink to /dev/zero', () => loadModel(dir)]);
}
{
  const dir = copy('llama-sharded', 'passwd');
  editJson(join(dir, 'model.safetensors.index.json'), (j) => {
    const map = j['weight_map'] as Record<string, string>;
    map[Object.keys(map)[0]!] = '../../../../etc/passwd';
  });
  cases.push(['shard index entry ../../../../etc/passwd', () => loadModel(dir)]);
}
{
  const dir = copy('llama', 'theta');
  editJson(join(dir, 'config.json'), (c) => (c['rope_theta'] = 0));
  cases.push(['rope_theta: 0', () => loadModel(dir)]);
}
{
  const png = join(root, 'huge.png');
  const bytes = blackPng(16000);
  writeFileSync(png, bytes);
  cases.push([`${bytes.length} B PNG of 16000² pixels`, () => loadImage(png, join(FIXTURES, 'vit'), 24)]);
}

for (const [what, run] of cases) {
  const rss = process.memoryUsage().rss;
  const start = performance.now();
  let outcome: string;
  try {
    await run();
    outcome = 'LOADED (not refused)';
  } catch (error) {
    outcome = `${(error as Error).name}: ${(error as Error).message.replaceAll(root, '<tmp>')}`;
  }
  const ms = performance.now() - start;
  const grew = (process.memoryUsage().rss - rss) / 2 ** 20;
  console.log(`${what}\n  ${ms.toFixed(1)} ms, RSS +${grew.toFixed(1)} MB: ${outcome}`);
}
rmSync(root, { recursive: true, force: true });
