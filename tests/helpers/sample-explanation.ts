import type { Explanation, TokenRelevance } from '../../lrp/result.js';

/**
 * A hand-made PA-LRP explanation for renderer tests: one clearly positive token, one clearly
 * negative one, a token full of markup and quotes, a newline token, an ESC byte and an empty one.
 */
export function sampleExplanation(): Explanation {
  const raw: [number, string, number, number][] = [
    [1, '<s>', 0.05, 0.3],
    [450, 'The', 0.4, -0.05],
    [4996, ' quick', 2.5, 0.2],
    [17354, ' brown', -1.75, 0.1],
    [1701, ' <script>alert("x")</script> & \'q\'', 0.01, -0.6],
    [13, '\n', 0, 0.02],
    [27, '\x1b[31m', -0.2, 0],
    [0, '', 0.001, 0.001],
  ];
  const tokens: TokenRelevance[] = raw.map(([id, text, token, position], index) => ({
    index,
    id,
    text,
    token,
    position,
    total: token + position,
  }));
  const input = tokens.reduce((s, t) => s + t.total, 0);
  const output = 1.25;
  // A ledger that closes to a rounding-sized remainder: biases, two softmax losses, ε the rest.
  const [bias, remainder] = [0.1, 2e-7];
  const softmax = [
    { name: 'layers.0.self_attn.softmax', lost: 0.1 },
    { name: 'layers.1.self_attn.softmax', lost: 0.05 },
  ];
  const stabilizers = output - input - bias - 0.15 - remainder;
  const unexplained = stabilizers + 0.15;
  return {
    method: 'pa-lrp',
    target: 29871,
    logit: output,
    tokens,
    conservation: {
      input,
      output,
      bias,
      relativeError: remainder / output,
      ledger: {
        tokens: tokens.reduce((s, t) => s + t.token, 0),
        positions: tokens.reduce((s, t) => s + t.position, 0),
        biases: bias,
        stabilizers,
        softmax,
        constantPositional: 0,
        otherOps: 0,
        unexplained,
        remainder,
      },
    },
    layers: [
      { name: 'layers.1.mlp', in: 1.25, out: 1.2 },
      { name: 'layers.1.attention', in: 1.2, out: 1.1 },
      { name: 'layers.0.mlp', in: 1.1, out: 1.1 },
      { name: 'layers.0.attention', in: 1.1, out: input },
    ],
    details: {
      rules: [{ op: 'softmax', rule: 'attention-detached', nodes: 2 }],
      positionAggregation: 'signed',
      positionSigned: tokens.map((t) => t.position),
      positionAbs: tokens.map((t) => Math.abs(t.position)),
      positionalTensors: [
        { name: 'layers.0.rotary.cos', relevance: tokens.map((t) => t.position / 2) },
        { name: 'layers.0.rotary.sin', relevance: tokens.map((t) => t.position / 2) },
      ],
      modelType: 'llama',
    },
  };
}
