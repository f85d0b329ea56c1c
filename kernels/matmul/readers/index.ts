/**
 * Which reader the register path uses for each operand. A new way to read an operand (another
 * storage format of B, say) is one reader file next to these, a spec field that selects it
 * (kernels/matmul/spec.ts, so that it is part of the pipeline key), and one line here.
 */
import type { MatmulSpec } from '../spec.js';
import { broadcastA } from './broadcastA.js';
import { directA } from './directA.js';
import { directB } from './directB.js';
import type { OperandReader } from './reader.js';
import { textureB } from './textureB.js';
import { textureBAlongK } from './textureBAlongK.js';

export { bufferBinding, type OperandReader } from './reader.js';

/** The reader of the kernel's A: shared by subgroup broadcast, or loaded per invocation. */
export function readerForA(s: MatmulSpec): OperandReader {
  return s.v.broadcastA ? broadcastA(s) : directA(s);
}

/** The reader of the kernel's B: a packed texture (texels along N or along K), or the buffer in B's layout. */
export function readerForB(s: MatmulSpec): OperandReader {
  if (s.lb === 'packed') return textureB(s);
  if (s.lb === 'packedK') return textureBAlongK(s);
  return directB(s);
}
