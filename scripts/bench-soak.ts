/**
 * Memory soak: 10,000 explanations (rotating methods, lengths 2-17, targets) of a tiny GPT-2 with
 * a 50,257-token vocabulary, in one process. After a warm-up, process RSS and the GPU pool's
 * bytes must stay flat: RSS within 5% of its value at the end of the warm-up, pool live and idle
 * bytes unchanged. Prints one line per sample and a summary; exits 1 if the check fails.
 *
 *   npm run bench:soak -- [--count 10000] [--warmup 1000] [--every 500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initRuntime } from '../kernels/dawn.js';
import { loadModel } from '../nn/folder.js';
import { soak, sampleMemory, writeSoakModel, type SoakSample } from './soak.js';

const MiB = 2 ** 20;

function parseArgs(argv: string[]): { count: number; warmup: number; every: number } {
  const o = { count: 10_000, warmup: 1_000, every: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${argv[i + 1] ?? 'nothing'}`);
    if (flag === '--count') o.count = n;
    else if (flag === '--warmup') o.warmup = n;
    else if (flag === '--every') o.every = n;
    else throw new Error(`unknown option ${flag} (--count, --warmup, --every)`);
  }
  if (o.warmup % o.every !== 0 || o.count <= o.warmup) throw new Error('--warmup must be a multiple of --every and below --count');
  return o;
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
const line = (s: SoakSample, seconds: number): string =>
  `${String(s.done).padStart(6)}  ${seconds.toFixed(0).padStart(5)} s  rss ${mib(s.rssBytes)} MiB  heap ${mib(s.heapUsedBytes)} MiB  ` +
  `pool live ${mib(s.poolLiveBytes)} MiB idle ${mib(s.poolIdleBytes)} MiB created ${s.poolCreated} destroyed ${s.poolDestroyed}  ` +
  `textures live ${mib(s.textureLiveBytes)} idle ${mib(s.textureIdleBytes)} MiB`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!(globalThis as { gc?: unknown }).gc) console.warn('bench:soak: run with --expose-gc for RSS samples taken after a GC');
  await initRuntime();
  const dir = mkdtempSync(join(tmpdir(), 'lrp-soak-'));
  try {
    await writeSoakModel(dir);
    const model = await loadModel(dir);
    const start = performance.now();
    const samples: SoakSample[] = [sampleMemory(0)];
    console.log(line(samples[0]!, 0));
    await soak(model, 0, o.count, o.every, (s) => {
      samples.push(s);
      console.log(line(s, (performance.now() - start) / 1000));
    });
    const warm = samples.find((s) => s.done === o.warmup)!;
    const after = samples.filter((s) => s.done > o.warmup);
    const maxRss = Math.max(...after.map((s) => s.rssBytes));
    const minRss = Math.min(...after.map((s) => s.rssBytes));
    const rssDrift = Math.max(maxRss - warm.rssBytes, warm.rssBytes - minRss) / warm.rssBytes;
    const poolFlat = after.every((s) => s.poolLiveBytes === warm.poolLiveBytes && s.poolIdleBytes === warm.poolIdleBytes && s.poolCreated === warm.poolCreated);
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `\n${o.count} explanations in ${seconds.toFixed(0)} s (${((seconds / o.count) * 1000).toFixed(1)} ms each). ` +
        `After the ${o.warmup}-explanation warm-up: RSS ${mib(warm.rssBytes)} MiB, then ${mib(minRss)}-${mib(maxRss)} MiB ` +
        `(largest drift ${(rssDrift * 100).toFixed(2)}%); pool live ${mib(warm.poolLiveBytes)} MiB, idle ${mib(warm.poolIdleBytes)} MiB, ` +
        `${poolFlat ? 'unchanged to the end (no buffer created)' : 'CHANGED'}.`,
    );
    model.dispose();
    const ok = rssDrift <= 0.05 && poolFlat;
    console.log(ok ? 'flat: yes' : 'flat: NO');
    process.exitCode = ok ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
