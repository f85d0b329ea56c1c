/**
 * What only a real `lrp` process shows (issue 9): a reader that leaves early, /dev/stdout and
 * bash's `>(…)` as --out, and environment variables read at start-up.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, ownStderr, runShell } from './helpers/cli-process.js';
import { modelDir } from './helpers/fixtures.js';
import { tempDir } from './helpers/tempdir.js';

const explain = `$LRP explain --model '${modelDir('gpt2')}' --ids 4,34,20 --method cp-lrp`;

beforeAll(() => {
  buildCli();
});

describe('lrp as a process', () => {
  it('a reader that leaves before the output (| true: EPIPE on write) ends it quietly with exit 0', () => {
    const r = runShell(`${explain} --format html | true; echo "lrp=\${PIPESTATUS[0]}"`);
    expect(r.stdout).toBe('lrp=0\n');
    expect(ownStderr(r.stderr)).toBe('');
  });

  it('--out /dev/stdout writes to the pipe, and --out >(…) to the process substitution', () => {
    const dir = tempDir('lrp-proc-');
    const r = runShell(`${explain} --out /dev/stdout | cat > '${dir}/piped.json' && ${explain} --out >(cat > '${dir}/sub.json'); rc=$?; wait $!; echo "rc=$rc"`);
    expect(ownStderr(r.stderr)).toBe('');
    expect(r.stdout).toBe('rc=0\n');
    for (const file of ['piped.json', 'sub.json']) {
      expect((JSON.parse(readFileSync(join(dir, file), 'utf8')) as { method: string }).method).toBe('cp-lrp');
    }
  });

  it('LRP_POOL_IDLE_MB=1MB is bad input naming the variable, not a silent NaN', () => {
    const r = runShell(`${explain}; echo "rc=$?"`, { LRP_POOL_IDLE_MB: '1MB' });
    expect(r.stdout).toBe('rc=2\n');
    expect(ownStderr(r.stderr)).toBe('lrp: LRP_POOL_IDLE_MB="1MB" is not a non-negative decimal number (e.g. LRP_POOL_IDLE_MB=256)\n');
  });

  it('LRP_DAWN_POLL takes throttled or immediate only', () => {
    const r = runShell(`${explain}; echo "rc=$?"`, { LRP_DAWN_POLL: 'slow' });
    expect(r.stdout).toBe('rc=2\n');
    expect(ownStderr(r.stderr)).toBe('lrp: LRP_DAWN_POLL="slow" must be throttled or immediate\n');
  });
});
