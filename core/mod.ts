/**
 * The minimal core: device, engine (pool, queue), tensors, autograd.
 *
 * @module
 */
export * from "./device.ts";
export * from "./engine.ts";
export * from "./tensor.ts";
export * from "./autograd.ts";
export * from "./random.ts";
export * from "./optim/mod.ts";
export * from "./schedule.ts";
export * from "./plugin.ts";
export * from "./method_run.ts";
export * from "./checkpoint.ts";
export * from "./logging/mod.ts";
