/**
 * The ε-rule's backward through `linear` with the rescaling fused into the product's operand
 * packing. The rule's s = g ⊙ z ⊘ (z + ε·sign z) feeds only gx = s·W (and the bias's column sum)
 * when W needs no gradient; where the packed product would pack s (for Cᵀ = Wᵀ·sᵀ), the kernel
 * that computes s writes it straight into that texture and sums its columns, and the product reads
 * the texture: two dispatches instead of three, and s never stored. Not recorded (for rules).
 */
import { elementwiseColumnsIntoTexture } from '../../kernels/elementwise.js';
import { matmulPrepackedA } from '../../kernels/matmul.js';
import type { KernelOutput } from '../../kernels/view.js';
import type { BackwardContext } from '../graph.js';
import type { Tensor } from '../tensor.js';
import { rowsView } from './rowsView.js';
import { reshape } from './view.js';
import { withF32 } from './widen.js';
import { wrap } from './wrap.js';

/**
 * `linearGrads(ctx, s, Σ_rows s)` for s = g ⊙ z ⊘ (z + ε·sign z), z = ctx.output, computed with s
 * packed by the kernel that makes it; or null where that does not apply (W needs a gradient, x
 * needs none, g or z not readable as rows, or the product would not pack s: see
 * `matmulPrepackedA`), and the caller runs the unfused path. Where it applies, the results equal
 * the unfused path's bit for bit: the same plan reads the same texels, the sums add in the same order.
 */
export function epsilonLinearGrads(ctx: BackwardContext, g: Tensor, eps: number): (Tensor | null)[] | null {
  const [x, w, bias] = ctx.inputs as [Tensor, Tensor, Tensor | undefined];
  const z = ctx.output;
  if (ctx.op !== 'linear' || !ctx.needsGrad[0] || ctx.needsGrad[1]) return null;
  const [gv, zv] = [rowsView(g), rowsView(z)];
  if (!gv || !zv || g.rank !== z.rank || g.shape.some((d, i) => d !== z.shape[i])) return null;
  const [rows, out] = gv.shape as [number, number];
  const made: { sums?: KernelOutput } = {};
  const product = withF32(w, (w32) =>
    matmulPrepackedA(
      {
        rows,
        cols: out,
        pack: () => {
          const packed = elementwiseColumnsIntoTexture('epsilonScale', [gv, zv], [eps]);
          made.sums = packed.sums;
          return packed.texture;
        },
      },
      w32,
    ),
  );
  if (!product || !made.sums) return null;
  const flat = wrap(product);
  const gx = reshape(flat, x.shape);
  flat.dispose();
  const columnSums = wrap(made.sums);
  if (!bias) {
    columnSums.dispose();
    return [gx, null];
  }
  if (ctx.needsGrad[2]) return [gx, null, columnSums];
  columnSums.dispose();
  return [gx, null, null];
}
