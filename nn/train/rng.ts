/** The host PRNG training draws from; it lives in autograd/rng.ts, where gradient checks use it too. */
export { Rng, deriveSeed } from '../../autograd/rng.js';
