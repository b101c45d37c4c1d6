/**
 * Sinter's WGSL kernels as autograd-aware ops. Importing this module also wires the autograd
 * engine's accumulation ops.
 *
 * @module
 */
export * from "./kernel.ts";
export * from "./elementwise.ts";
export * from "./reduce.ts";
export * from "./matmul.ts";
export * from "./conv2d.ts";
export * from "./norm.ts";
export * from "./softmax.ts";
export * from "./normalize.ts";
export * from "./attention.ts";
export * from "./layout.ts";
export * from "./pool.ts";
export * from "./interpolate.ts";
