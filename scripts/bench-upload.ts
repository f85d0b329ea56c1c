/**
 * What uploading weights costs on this adapter, below the loader: 256 MiB written into fresh GPU
 * buffers (a) through the runtime's upload staging (what loadModel uses), (b) by `queue.writeBuffer`
 * straight into the destination, and (c) the first touch of 256 MiB of fresh host memory alone,
 * which on lavapipe every new GPU buffer pays. Then (d) whether each upload path's memory is
 * returned when the buffer is destroyed: five rounds of create, fill 128 MiB, destroy.
 *
 *   npm run build && node dist/scripts/bench-upload.js
 *
 * Reported per case: wall time, process CPU time (all threads) and the rate per CPU second.
 */
import { cpuUsage, memoryUsage } from 'node:process';
import { type GpuRuntime } from '../kernels/runtime.js';
import { initRuntime } from '../kernels/dawn.js';
import { BufferUsage } from '../kernels/usage.js';
import { shmemHugePages } from './bench-shared.js';

const MiB = 2 ** 20;
const TOTAL = 256 * MiB;
const PIECE = 4 * MiB;

const cpuMs = (): number => {
  const c = cpuUsage();
  return (c.user + c.system) / 1000;
};

async function timed(name: string, bytes: number, fn: () => Promise<void>): Promise<void> {
  const [t0, c0] = [performance.now(), cpuMs()];
  await fn();
  const [ms, cpu] = [performance.now() - t0, cpuMs() - c0];
  console.log(`| ${name} | ${(ms / 1000).toFixed(2)} s | ${(cpu / 1000).toFixed(2)} s | ${(bytes / 1e6 / (cpu / 1000)).toFixed(0)} MB/s |`);
}

function storageBuffer(rt: GpuRuntime, bytes: number): GPUBuffer {
  return rt.device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC });
}

async function main(): Promise<void> {
  const rt = await initRuntime();
  const piece = new Uint8Array(PIECE).fill(7);
  console.log(`Adapter: ${rt.adapterInfo.description}; shmem huge pages ${shmemHugePages()}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  console.log('| 256 MiB into fresh memory | wall | CPU | per CPU second |\n|---|---:|---:|---:|');
  await timed('upload staging, streamed (rt.upload, 4 MiB pieces, awaiting uploadRoom: what loadModel does)', TOTAL, async () => {
    const dst = storageBuffer(rt, TOTAL);
    for (let offset = 0; offset < TOTAL; offset += PIECE) {
      await rt.uploadRoom(PIECE);
      rt.upload(dst, piece, offset);
    }
    await rt.sync();
    dst.destroy();
  });
  await timed('upload staging, not awaiting uploadRoom (a staging buffer per piece)', TOTAL, async () => {
    const dst = storageBuffer(rt, TOTAL);
    for (let offset = 0; offset < TOTAL; offset += PIECE) rt.upload(dst, piece, offset);
    await rt.sync();
    dst.destroy();
  });
  await timed('queue.writeBuffer into the destination', TOTAL, async () => {
    const dst = storageBuffer(rt, TOTAL);
    for (let offset = 0; offset < TOTAL; offset += PIECE) rt.device.queue.writeBuffer(dst, offset, piece);
    await rt.sync();
    dst.destroy();
  });
  await timed('first touch of fresh host memory (one byte per 4 KiB page)', TOTAL, async () => {
    const fresh = new Uint8Array(TOTAL);
    for (let i = 0; i < TOTAL; i += 4096) fresh[i] = 1;
  });
  const [a, b] = [new Uint8Array(TOTAL).fill(1), new Uint8Array(TOTAL).fill(2)];
  await timed('memcpy between warm host buffers', TOTAL, async () => b.set(a));
  console.log('\nRSS after each round of create, fill 128 MiB, destroy:');
  for (const path of ['upload staging', 'writeBuffer'] as const) {
    const rss: string[] = [];
    for (let round = 0; round < 5; round++) {
      const dst = storageBuffer(rt, 128 * MiB);
      for (let offset = 0; offset < 128 * MiB; offset += PIECE) {
        if (path === 'upload staging') {
          await rt.uploadRoom(PIECE);
          rt.upload(dst, piece, offset);
        }
        else rt.device.queue.writeBuffer(dst, offset, piece);
      }
      await rt.sync();
      dst.destroy();
      await rt.sync();
      rss.push(`${Math.round(memoryUsage.rss() / MiB)}`);
    }
    console.log(`- ${path}: ${rss.join(', ')} MiB`);
  }
}

await main();
