import { afterEach, describe, expect, it } from 'vitest';
import { envFlag, envName, envNumber } from '../kernels/env.js';
import { InputError } from '../kernels/errors.js';
import { initRuntime } from '../kernels/dawn.js';
import { hasRuntime } from '../kernels/runtime.js';

describe('environment variables are parsed strictly', () => {
  it('reads plain decimal numbers and treats unset or empty as unset', () => {
    expect(envNumber('LRP_POOL_IDLE_MB', { LRP_POOL_IDLE_MB: '256' })).toBe(256);
    expect(envNumber('LRP_POOL_IDLE_MB', { LRP_POOL_IDLE_MB: '0.5' })).toBe(0.5);
    expect(envNumber('LRP_POOL_IDLE_MB', { LRP_POOL_IDLE_MB: '0' })).toBe(0);
    expect(envNumber('LRP_POOL_IDLE_MB', {})).toBeUndefined();
    expect(envNumber('LRP_POOL_IDLE_MB', { LRP_POOL_IDLE_MB: '' })).toBeUndefined();
  });

  for (const bad of ['1MB', 'NaN', '0x10', '1e3', ' 5', '5 ', '-1', '+1', '.5', 'Infinity']) {
    it(`refuses LRP_POOL_IDLE_MB="${bad}", naming the variable`, () => {
      const read = (): unknown => envNumber('LRP_POOL_IDLE_MB', { LRP_POOL_IDLE_MB: bad });
      expect(read).toThrow(InputError);
      expect(read).toThrow(`LRP_POOL_IDLE_MB="${bad}" is not a non-negative decimal number`);
    });
  }

  it('reads switches as 0/1 only', () => {
    expect(envFlag('LRP_DEBUG', {})).toBe(false);
    expect(envFlag('LRP_DEBUG', { LRP_DEBUG: '0' })).toBe(false);
    expect(envFlag('LRP_DEBUG', { LRP_DEBUG: '1' })).toBe(true);
    expect(() => envFlag('LRP_DEBUG', { LRP_DEBUG: 'yes' })).toThrow(/LRP_DEBUG="yes" must be 0 or 1/);
  });

  it('refuses names with stray spaces', () => {
    expect(envName('LRP_BACKEND', { LRP_BACKEND: 'vulkan' })).toBe('vulkan');
    expect(() => envName('LRP_BACKEND', { LRP_BACKEND: 'vulkan ' })).toThrow(/LRP_BACKEND="vulkan " has leading or trailing spaces/);
  });
});

describe('initRuntime reads the environment strictly', () => {
  const saved = process.env['LRP_POOL_IDLE_MB'];
  afterEach(() => {
    if (saved === undefined) delete process.env['LRP_POOL_IDLE_MB'];
    else process.env['LRP_POOL_IDLE_MB'] = saved;
  });

  it('rejects LRP_POOL_IDLE_MB=1MB before starting anything', async () => {
    expect(hasRuntime()).toBe(false);
    process.env['LRP_POOL_IDLE_MB'] = '1MB';
    await expect(initRuntime()).rejects.toThrow(/LRP_POOL_IDLE_MB="1MB"/);
    expect(hasRuntime()).toBe(false);
  });
});
