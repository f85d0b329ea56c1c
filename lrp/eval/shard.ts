/**
 * Which shard of the examples this process evaluates: `--shard K/N` (K = 0..N-1), else the array
 * job variables of Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, offset by
 * SLURM_ARRAY_TASK_MIN) or of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with --shard-count N),
 * else the whole data set. Shard K takes every example whose index ≡ K (mod N).
 */
import { InputError } from '../../kernels/errors.js';
import type { Shard } from './files.js';

function integer(name: string, raw: string, min: number): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min) throw new InputError(`${name}: "${raw}" is not an integer >= ${min}`);
  return v;
}

function checked(shard: Shard, source: string): Shard {
  if (shard.index >= shard.count) throw new InputError(`${source}: shard index ${shard.index} is not below the shard count ${shard.count}`);
  return shard;
}

export function resolveShard(flag: string | undefined, countFlag: string | undefined, env: NodeJS.ProcessEnv): Shard {
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag.trim());
    if (!m) throw new InputError(`--shard: expected K/N (e.g. 0/4), got "${flag}"`);
    return checked({ index: Number(m[1]), count: integer('--shard N', m[2]!, 1) }, '--shard');
  }
  const slurmId = env['SLURM_ARRAY_TASK_ID'];
  if (slurmId !== undefined && slurmId !== '') {
    const count = env['SLURM_ARRAY_TASK_COUNT'];
    if (!count) throw new InputError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not');
    const min = env['SLURM_ARRAY_TASK_MIN'] ? integer('SLURM_ARRAY_TASK_MIN', env['SLURM_ARRAY_TASK_MIN'], 0) : 0;
    return checked({ index: integer('SLURM_ARRAY_TASK_ID', slurmId, min) - min, count: integer('SLURM_ARRAY_TASK_COUNT', count, 1) }, 'Slurm array');
  }
  const k8sIndex = env['JOB_COMPLETION_INDEX'];
  if (k8sIndex !== undefined && k8sIndex !== '') {
    if (countFlag === undefined) throw new InputError('JOB_COMPLETION_INDEX is set: pass --shard-count N (the Job\'s completions)');
    return checked({ index: integer('JOB_COMPLETION_INDEX', k8sIndex, 0), count: integer('--shard-count', countFlag, 1) }, 'Indexed Job');
  }
  if (countFlag !== undefined) throw new InputError('--shard-count is used with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs); use --shard K/N otherwise');
  return { index: 0, count: 1 };
}

export const inShard = (index: number, shard: Shard): boolean => index % shard.count === shard.index;

/** The folder a shard writes to inside --out: the run itself, or shard-K-of-N for N > 1. */
export const shardFolder = (shard: Shard): string | null => (shard.count > 1 ? `shard-${shard.index}-of-${shard.count}` : null);
