/**
 * Environment variables read strictly: a value that is set but malformed is an InputError naming
 * the variable, never a silent NaN or a default (`LRP_POOL_IDLE_MB=1MB` must not turn the cap off).
 */
import { InputError } from './errors.js';

/** A plain decimal number: digits with an optional fraction, no sign, unit, hex or exponent. */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

type Env = Readonly<Record<string, string | undefined>>;

/** A non-negative decimal number, or undefined when the variable is unset or empty. */
export function envNumber(name: string, env: Env = process.env): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!DECIMAL.test(raw)) throw new InputError(`${name}="${raw}" is not a non-negative decimal number (e.g. ${name}=256)`);
  return Number(raw);
}

/** A switch: unset, empty or "0" is off, "1" is on; anything else is an error. */
export function envFlag(name: string, env: Env = process.env): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new InputError(`${name}="${raw}" must be 0 or 1`);
}

/** A name (adapter, backend): unset or empty is undefined; surrounding spaces are an error. */
export function envName(name: string, env: Env = process.env): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.trim() !== raw) throw new InputError(`${name}="${raw}" has leading or trailing spaces`);
  return raw;
}
