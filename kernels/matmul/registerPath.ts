/**
 * The register path's K loop: operands read straight into registers by their readers (rows and
 * columns past the edge are clamped, not checked), multiplied into the accumulators.
 */
import type { OperandReader } from './readers/index.js';
import { fmaLines, type MatmulSpec } from './spec.js';

/** Setup and K loops of the register path, combining the two operands' readers. */
export function registerLoop(s: MatmulSpec, A: OperandReader, B: OperandReader): string[] {
  const L = [...A.setup, ...B.setup];
  const fmas = (kks: number[], step4: boolean): string[] => [
    ...A.load(kks, '    '),
    ...B.load(kks, '    '),
    ...fmaLines(s.v, kks, A.at(step4), B.at(step4), '    '),
  ];
  // Steps of 4 along K where a vec4 operand (or a packed B) delivers them; scalar-only products
  // (odd shapes) take the 1-step loop alone, a quarter of the code (lavapipe compiles it 4× faster).
  if (s.la.endsWith('4') || s.lb.endsWith('4') || s.v.textureB) {
    L.push('  let K4 = K & ~3u;', '  for (var k = 0u; k < K4; k += 4u) {', ...fmas([0, 1, 2, 3], true), '  }');
  } else {
    L.push('  let K4 = 0u;');
  }
  L.push('  for (var k = K4; k < K; k++) {', ...fmas([0], false), '  }');
  return L;
}
