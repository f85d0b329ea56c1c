/** The matmul kernel family's entry point; its parts live in kernels/matmul/ (see its index.ts). */
export * from './matmul/index.js';
