/**
 * Optimizers (AdamW, SGD, LARS), gradient clipping and EMA updates, all as fused WGSL kernels
 * that never wait for the GPU.
 *
 * @module
 */
export * from "./optimizer.ts";
export * from "./adamw.ts";
export * from "./sgd.ts";
export * from "./lars.ts";
export * from "./norm.ts";
export * from "./clip.ts";
export * from "./ema.ts";
