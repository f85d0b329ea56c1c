/** Node only: a demo model's held-out set read from its folder. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../kernels/errors.js';
import { parseHeldout, type HeldoutExample } from '../evaluate.js';

/** The examples of `dir`/heldout.jsonl, with their ground truth (InputError when missing or malformed). */
export async function readHeldout(dir: string): Promise<HeldoutExample[]> {
  const path = join(dir, 'heldout.jsonl');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`${path}: not found (evaluation needs a demo model's held-out set with ground truth)`);
  }
  return parseHeldout(text, path);
}
