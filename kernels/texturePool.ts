/**
 * Scratch textures for kernels that repack an operand (matmul reads B from an rgba32float texture
 * array on CPU adapters). Reused by exact size: a model runs the same product shapes on every
 * forward pass, so after the first pass no texture is created. Like pooled buffers, a released
 * texture may be handed out again at once: commands run in the order they were recorded.
 */
import { IdleSet } from './idleSet.js';
import { TextureUsage } from './usage.js';

/** An rgba32float 2-D texture array and the view kernels bind. */
export interface ScratchTexture {
  /** The texture (usage STORAGE_BINDING and COPY_DST: a kernel or a buffer copy fills it). */
  texture: GPUTexture;
  /** A '2d-array' view of the whole texture. */
  view: GPUTextureView;
  /** Texels per row (4 floats each). */
  width: number;
  /** Rows per layer. */
  height: number;
  /** Array layers. */
  layers: number;
  /** Its size in bytes: width · height · layers · 16. */
  bytes: number;
}

/** What the texture pool holds (`runtime().textures.snapshot()`). */
export interface TexturePoolStats {
  /** Bytes in textures currently handed out. */
  liveBytes: number;
  /** Bytes in idle textures kept for reuse. */
  idleBytes: number;
  /** Textures ever created. */
  created: number;
}

const BYTES_PER_TEXEL = 16;

const sizeKey = (width: number, height: number, layers: number): string => `${width}x${height}x${layers}`;

/** Scratch textures reused by exact size; idle ones beyond a byte cap are destroyed, oldest first. */
export class TexturePool {
  /** Idle textures by dimensions. */
  private readonly idle = new IdleSet<string, ScratchTexture>();
  private stats: Omit<TexturePoolStats, 'idleBytes'> = { liveBytes: 0, created: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxIdleBytes: number,
    private readonly deferDestroy: (texture: GPUTexture, bytes: number) => void,
  ) {}

  /** An rgba32float texture array of exactly this size, contents undefined. */
  acquire(width: number, height: number, layers: number): ScratchTexture {
    const key = sizeKey(width, height, layers);
    let scratch = this.idle.take(key);
    if (!scratch) {
      const texture = this.device.createTexture({
        size: [width, height, layers],
        format: 'rgba32float',
        usage: TextureUsage.STORAGE_BINDING | TextureUsage.COPY_DST,
        label: `scratch ${key}`,
      });
      scratch = { texture, view: texture.createView({ dimension: '2d-array' }), width, height, layers, bytes: width * height * layers * BYTES_PER_TEXEL };
      this.stats.created++;
    }
    this.stats.liveBytes += scratch.bytes;
    return scratch;
  }

  /** Returns a texture to the pool; commands already recorded that read it still run first. */
  release(scratch: ScratchTexture): void {
    this.stats.liveBytes -= scratch.bytes;
    this.idle.put(sizeKey(scratch.width, scratch.height, scratch.layers), scratch, scratch.bytes);
    this.idle.evict(this.maxIdleBytes, (oldest) => this.deferDestroy(oldest.texture, oldest.bytes));
  }

  /** The pool's counters now (a copy). */
  snapshot(): TexturePoolStats {
    return { ...this.stats, idleBytes: this.idle.bytes };
  }
}
