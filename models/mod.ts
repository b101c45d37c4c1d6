/**
 * Models: layers, architectures and weight I/O.
 *
 * @module
 */
export * from "./module.ts";
export * from "./layers.ts";
export * from "./wrapper.ts";
export * from "./safetensors.ts";
export * from "./resnet.ts";
export * from "./tinycnn.ts";
export * from "./pos_embed.ts";
export * from "./vit.ts";
export * from "./dinov2.ts";
export * from "./onnx.ts";
