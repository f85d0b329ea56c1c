/**
 * Upload staging (kernels/uploadStaging.ts): mapped `MAP_WRITE` buffers reused from submit to
 * submit. The bookkeeping is checked on a fake device whose `mapAsync` the test resolves by hand;
 * the bytes and the bound on staging buffers on the real one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './helpers/gpu.js';
import { runtime } from '../kernels/runtime.js';
import { UploadStaging } from '../kernels/uploadStaging.js';
import { BufferUsage } from '../kernels/usage.js';

const MiB = 2 ** 20;

/** A device that makes fake mappable buffers; `remap()` completes every pending `mapAsync`. */
function fakeDevice(): { device: GPUDevice; made: () => number; destroyed: () => number; remap: () => Promise<void> } {
  let made = 0;
  let destroyed = 0;
  const pending: (() => void)[] = [];
  const device = {
    createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
      made++;
      const memory = new ArrayBuffer(descriptor.size);
      return {
        getMappedRange: () => memory,
        unmap: () => undefined,
        destroy: () => void destroyed++,
        mapAsync: () => new Promise<undefined>((resolve) => pending.push(() => resolve(undefined))),
      } as unknown as GPUBuffer;
    },
  } as unknown as GPUDevice;
  const remap = async (): Promise<void> => {
    for (const resolve of pending.splice(0)) resolve();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { device, made: () => made, destroyed: () => destroyed, remap };
}

describe('UploadStaging bookkeeping', () => {
  it('hands out the current slot until it is full, then null', () => {
    const { device, made } = fakeDevice();
    const staging = new UploadStaging(device, 16, 2);
    expect(staging.take(12)).toMatchObject({ offset: 0 });
    const rest = staging.take(12)!;
    expect([rest.offset, rest.bytes.byteLength]).toEqual([12, 4]);
    expect(staging.take(4)).toBeNull();
    expect(made()).toBe(1);
  });

  it('reuses a slot once it is mapped again, and room() waits for that', async () => {
    const { device, made, remap } = fakeDevice();
    const staging = new UploadStaging(device, 16, 2);
    for (let round = 0; round < 2; round++) {
      staging.take(16);
      staging.submitted(staging.seal());
    }
    expect(made()).toBe(2);
    let roomy = false;
    const room = staging.room(16).then(() => (roomy = true));
    await new Promise((r) => setTimeout(r, 0));
    expect(roomy).toBe(false); // both slots in flight, none may be made
    await remap();
    await room;
    expect(roomy).toBe(true);
    staging.take(16);
    expect(made()).toBe(2); // a mapped slot came back and was reused
  });

  it('makes slots past keepSlots when an upload cannot wait, and destroys them when they come back', async () => {
    const { device, made, destroyed, remap } = fakeDevice();
    const staging = new UploadStaging(device, 16, 1);
    for (let round = 0; round < 3; round++) {
      staging.take(16);
      staging.submitted(staging.seal());
    }
    expect([made(), staging.size]).toEqual([3, 3]);
    await remap();
    expect([destroyed(), staging.size]).toEqual([2, 1]);
  });

  it('does not seal a slot nothing was written to', () => {
    const { device } = fakeDevice();
    const staging = new UploadStaging(device, 16, 1);
    expect(staging.seal()).toBeNull();
  });
});

describe('uploads through staging buffers', () => {
  beforeAll(async () => {
    await gpu();
  });

  it('delivers every byte of uploads that span several staging buffers, at word offsets', async () => {
    const rt = runtime();
    const bytes = 11 * MiB + 12;
    const data = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 7 + (i >> 12)) & 255;
    const dst = rt.device.createBuffer({ size: bytes + 8, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC });
    try {
      rt.upload(dst, data.subarray(0, 4), 0); // a small upload first, so the big one starts mid-buffer
      rt.upload(dst, data, 8);
      const back = new Uint8Array(await rt.read(dst, 8, bytes));
      let mismatches = 0;
      for (let i = 0; i < bytes; i++) if (back[i] !== data[i]) mismatches++;
      expect(mismatches).toBe(0);
      expect(Array.from(new Uint8Array(await rt.read(dst, 0, 4)))).toEqual(Array.from(data.subarray(0, 4)));
    } finally {
      dst.destroy();
    }
  });

  it('streams 64 MiB in 4 MiB pieces through at most four staging buffers when the caller awaits uploadRoom', async () => {
    const rt = runtime();
    const piece = new Uint8Array(4 * MiB);
    const dst = rt.device.createBuffer({ size: 64 * MiB, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC });
    try {
      let most = 0;
      for (let k = 0; k < 16; k++) {
        piece.fill(k + 1);
        await rt.uploadRoom(piece.byteLength);
        rt.upload(dst, piece, k * piece.byteLength);
        most = Math.max(most, rt.counters().stagingBuffers);
      }
      expect(most).toBeLessThanOrEqual(4);
      for (const k of [0, 7, 15]) {
        const back = new Uint8Array(await rt.read(dst, k * piece.byteLength + 4096, 4));
        expect(Array.from(back)).toEqual([k + 1, k + 1, k + 1, k + 1]);
      }
    } finally {
      dst.destroy();
    }
  });
});
