/**
 * Sinter: self-supervised pretraining for vision models on WebGPU.
 *
 * ```ts
 * import { initDevice, tensor, matmul } from "@sinter/sinter";
 * await initDevice();
 * const y = matmul(tensor([1, 2, 3, 4], [2, 2]), tensor([1, 0, 0, 1], [2, 2]));
 * console.log(await y.data());
 * ```
 *
 * @module
 */
export * from "./core/mod.ts";
export * from "./kernels/mod.ts";
