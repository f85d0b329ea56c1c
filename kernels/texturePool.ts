/**
 * Scratch textures for kernels that repack an operand (matmul reads B from an rgba32float texture
 * array on CPU adapters). Reused by exact size: a model runs the same product shapes on every
 * forward pass, so after the first pass no texture is created. Like pooled buffers, a released
 * texture may be handed out again at once: commands run in the order they were recorded.
 */
import { TextureUsage } from './usage.js';

/** An rgba32float 2-D texture array and the view kernels bind. */
export interface ScratchTexture {
  texture: GPUTexture;
  view: GPUTextureView;
  width: number;
  height: number;
  layers: number;
  bytes: number;
}

export interface TexturePoolStats {
  liveBytes: number;
  idleBytes: number;
  created: number;
}

const BYTES_PER_TEXEL = 16;

export class TexturePool {
  private readonly idle = new Map<string, ScratchTexture[]>();
  /** Idle textures in release order, oldest first, for eviction past the cap. */
  private readonly idleOrder: ScratchTexture[] = [];
  private stats: TexturePoolStats = { liveBytes: 0, idleBytes: 0, created: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxIdleBytes: number,
    private readonly deferDestroy: (texture: GPUTexture, bytes: number) => void,
  ) {}

  /** An rgba32float texture array of exactly this size, contents undefined. */
  acquire(width: number, height: number, layers: number): ScratchTexture {
    const key = `${width}x${height}x${layers}`;
    let scratch = this.idle.get(key)?.pop();
    if (scratch) {
      this.idleOrder.splice(this.idleOrder.indexOf(scratch), 1);
      this.stats.idleBytes -= scratch.bytes;
    } else {
      const texture = this.device.createTexture({
        size: [width, height, layers],
        format: 'rgba32float',
        usage: TextureUsage.STORAGE_BINDING,
        label: `scratch ${key}`,
      });
      scratch = { texture, view: texture.createView({ dimension: '2d-array' }), width, height, layers, bytes: width * height * layers * BYTES_PER_TEXEL };
      this.stats.created++;
    }
    this.stats.liveBytes += scratch.bytes;
    return scratch;
  }

  release(scratch: ScratchTexture): void {
    this.stats.liveBytes -= scratch.bytes;
    const key = `${scratch.width}x${scratch.height}x${scratch.layers}`;
    const list = this.idle.get(key) ?? [];
    list.push(scratch);
    this.idle.set(key, list);
    this.idleOrder.push(scratch);
    this.stats.idleBytes += scratch.bytes;
    while (this.stats.idleBytes > this.maxIdleBytes && this.idleOrder.length > 0) {
      const oldest = this.idleOrder.shift()!;
      const same = this.idle.get(`${oldest.width}x${oldest.height}x${oldest.layers}`)!;
      same.splice(same.indexOf(oldest), 1);
      this.stats.idleBytes -= oldest.bytes;
      this.deferDestroy(oldest.texture, oldest.bytes);
    }
  }

  snapshot(): TexturePoolStats {
    return { ...this.stats };
  }
}
