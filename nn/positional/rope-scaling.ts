/**
 * `rope_scaling` from config.json: the inverse frequencies of rotary embeddings and the factor
 * cos/sin are multiplied by ("attention scaling"), per scaling type, following the formulas of
 * Hugging Face's modeling_rope_utils (default, linear, dynamic NTK, llama3, YaRN). All in float64:
 * the reference forwards are float64 too, and HF's own float32 rounding is below the f32 noise.
 */
import { InputError } from '../../kernels/errors.js';
import type { ConfigReader, JsonObject } from '../config.js';

/**
 * A parsed `rope_scaling`, one variant per type; each field's comment gives its key in
 * config.json. `factor` is how much longer the context is made, `originalMax` the context the
 * model was trained for; llama3's `lowFreqFactor`/`highFreqFactor` bound the wavelengths it
 * rescales; YaRN's `betaFast`/`betaSlow` bound its interpolation ramp, `attentionFactor`
 * multiplies cos and sin, and `truncate` rounds the ramp's bounds to integers.
 */
export type RopeScaling =
  | {
      /** No scaling: 1 / θ^(2i/R). */
      type: 'default';
    }
  | {
      /** Position interpolation: every frequency divided by `factor`. */
      type: 'linear';
      /** [factor] */
      factor: number;
    }
  /** NTK-aware base change, recomputed for a sequence longer than `originalMax`. */
  | {
      /** Dynamic NTK. */
      type: 'dynamic';
      /** [factor] */
      factor: number;
      /** [original_max_position_embeddings] */
      originalMax: number;
    }
  | {
      /** Llama 3.1's wavelength-dependent scaling. */
      type: 'llama3';
      /** [factor] */
      factor: number;
      /** [low_freq_factor] */
      lowFreqFactor: number;
      /** [high_freq_factor] */
      highFreqFactor: number;
      /** [original_max_position_embeddings] */
      originalMax: number;
    }
  | {
      /** YaRN: interpolation ramped by wavelength, and a temperature on cos and sin. */
      type: 'yarn';
      /** [factor] (default: max_position_embeddings / originalMax) */
      factor: number;
      /** [original_max_position_embeddings] */
      originalMax: number;
      /** [beta_fast] (default 32) */
      betaFast: number;
      /** [beta_slow] (default 1) */
      betaSlow: number;
      /** [attention_factor], or from [mscale] and [mscale_all_dim] */
      attentionFactor: number;
      /** [truncate] (default true) */
      truncate: boolean;
    };

/** The `rope_type` values `readRopeScaling` accepts. */
export const ROPE_SCALING_TYPES = ['default', 'linear', 'dynamic', 'llama3', 'yarn'] as const;

/** Reads `rope_scaling` (null or absent: no scaling). Unknown types name themselves in the error. */
export function readRopeScaling(r: ConfigReader, maxPositions: number): RopeScaling {
  r.used.add('rope_scaling');
  if (!r.has('rope_scaling')) return { type: 'default' };
  const raw = r.raw['rope_scaling'];
  const where = 'config.json: rope_scaling';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${where} must be an object or null, got ${JSON.stringify(raw)}`);
  const s = raw as JsonObject;
  // Older configs say "type", newer ones "rope_type".
  const type = s['rope_type'] ?? s['type'];
  if (typeof type !== 'string') throw new InputError(`${where} has no rope_type`);
  const num = (key: string, fallback?: number): number => {
    const v = s[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${where}.${key} must be a number, got ${JSON.stringify(s[key])}`);
    return v;
  };
  const positive = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (v <= 0) throw new InputError(`${where}.${key} must be positive, got ${v}`);
    return v;
  };
  const originalMax = positive('original_max_position_embeddings', maxPositions);
  switch (type) {
    case 'default':
      return { type };
    case 'linear':
      return { type, factor: positive('factor') };
    case 'dynamic':
      return { type, factor: positive('factor'), originalMax };
    case 'llama3': {
      const lowFreqFactor = positive('low_freq_factor');
      const highFreqFactor = positive('high_freq_factor');
      if (highFreqFactor <= lowFreqFactor) throw new InputError(`${where}: high_freq_factor (${highFreqFactor}) must exceed low_freq_factor (${lowFreqFactor})`);
      return { type, factor: positive('factor'), lowFreqFactor, highFreqFactor, originalMax };
    }
    case 'yarn': {
      // An explicit factor wins; without one it is the ratio of the extended to the original context.
      const factor = positive('factor', maxPositions / originalMax);
      const mscale = s['mscale'];
      const mscaleAllDim = s['mscale_all_dim'];
      let attentionFactor: number;
      if (s['attention_factor'] !== undefined && s['attention_factor'] !== null) attentionFactor = positive('attention_factor');
      else if (typeof mscale === 'number' && typeof mscaleAllDim === 'number' && mscale !== 0 && mscaleAllDim !== 0) {
        attentionFactor = yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
      } else attentionFactor = yarnMscale(factor, 1);
      const truncate = s['truncate'] ?? true;
      if (typeof truncate !== 'boolean') throw new InputError(`${where}.truncate must be true or false`);
      // HF treats 0 / null as "unset" for the betas (`or 32`, `or 1`).
      return { type, factor, originalMax, betaFast: num('beta_fast', 32) || 32, betaSlow: num('beta_slow', 1) || 1, attentionFactor, truncate };
    }
    default:
      throw new InputError(`${where}: rope_type "${type}" is not supported (supported: ${ROPE_SCALING_TYPES.join(', ')})`);
  }
}

/** YaRN's attention temperature: 0.1·m·ln(s) + 1 for a scale s > 1. */
function yarnMscale(scale: number, m: number): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

/** The unscaled frequencies 1 / θ^(2i/R), i < R/2. */
function baseFrequencies(dim: number, theta: number): number[] {
  return Array.from({ length: dim / 2 }, (_, i) => 1 / theta ** ((2 * i) / dim));
}

/** What `ropeFrequencies` returns: the inverse frequencies and the cos/sin factor. */
export interface RopeFrequencies {
  /** R/2 inverse frequencies, one per rotated pair. */
  invFreq: number[];
  /** Multiplies cos and sin (YaRN's temperature; 1 for every other type). */
  attentionScale: number;
}

/**
 * Inverse frequencies of a rotary width `dim` for a sequence of `seqLen` positions (only the
 * dynamic type depends on it).
 */
export function ropeFrequencies(scaling: RopeScaling, dim: number, theta: number, seqLen: number): RopeFrequencies {
  switch (scaling.type) {
    case 'default':
      return { invFreq: baseFrequencies(dim, theta), attentionScale: 1 };
    case 'linear':
      // Scaling positions by 1/factor is the same as scaling the frequencies.
      return { invFreq: baseFrequencies(dim, theta).map((f) => f / scaling.factor), attentionScale: 1 };
    case 'dynamic': {
      if (seqLen <= scaling.originalMax) return { invFreq: baseFrequencies(dim, theta), attentionScale: 1 };
      const base = theta * ((scaling.factor * seqLen) / scaling.originalMax - (scaling.factor - 1)) ** (dim / (dim - 2));
      return { invFreq: baseFrequencies(dim, base), attentionScale: 1 };
    }
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMax } = scaling;
      const lowFreqWavelen = originalMax / lowFreqFactor;
      const highFreqWavelen = originalMax / highFreqFactor;
      const invFreq = baseFrequencies(dim, theta).map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highFreqWavelen) return f; // high frequencies: unchanged
        if (wavelen > lowFreqWavelen) return f / factor; // low frequencies: interpolated
        // In between: a linear blend in originalMax / wavelen.
        const smooth = (originalMax / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * (f / factor) + smooth * f;
      });
      return { invFreq, attentionScale: 1 };
    }
    case 'yarn': {
      const { factor, originalMax, betaFast, betaSlow, truncate } = scaling;
      // The dimension index at which a frequency completes `rotations` turns over the original context.
      const correctionDim = (rotations: number): number => (dim * Math.log(originalMax / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
      let low = correctionDim(betaFast);
      let high = correctionDim(betaSlow);
      if (truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, dim - 1);
      if (low === high) high += 0.001; // HF's guard against a zero-width ramp
      const invFreq = baseFrequencies(dim, theta).map((f, i) => {
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        const extrapolation = 1 - ramp; // share of the unscaled frequency
        return (f / factor) * (1 - extrapolation) + f * extrapolation;
      });
      return { invFreq, attentionScale: scaling.attentionFactor };
    }
  }
}

/** Longest sequence the scaling supports: dynamic NTK extends the context by its factor. */
export function scaledMaxPositions(scaling: RopeScaling, maxPositions: number): number {
  return scaling.type === 'dynamic' ? Math.floor(maxPositions * scaling.factor) : maxPositions;
}
