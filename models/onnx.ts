/**
 * ONNX export of a backbone's forward pass (eval mode): input `input [B, C, H, W]`, outputs
 * `features [B, C', H', W']` (the {@link ModelWrapper.forwardFeatures} map) and `pooled [B, C']`
 * (global average for CNNs, the normed class token for ViTs). Opset 17, IR version 8, weights
 * as float32 initializers named as in the PyTorch `state_dict` (Linear weights transposed, as
 * `<name>.weight_t`). Written by our own protobuf encoder (`onnx/proto.ts`).
 *
 * Supported: torchvision ResNet (BasicBlock / Bottleneck, optional CIFAR stem), sinter tinycnn16,
 * timm ViT and DINOv2 ViT (with or without registers). The export is for one input size (ViT
 * position tables are resampled for it); the batch may be left dynamic.
 *
 * @module
 */
import { fmtShape } from "../core/tensor.ts";
import { DinoVisionTransformer } from "./dinov2.ts";
import type { Module } from "./module.ts";
import { ResNet } from "./resnet.ts";
import { writeFileAtomic } from "./safetensors.ts";
import { TinyCnn } from "./tinycnn.ts";
import { VisionTransformer } from "./vit.ts";
import type { ModelWrapper } from "./wrapper.ts";
import { emitResNet, emitTinyCnn } from "./onnx/cnn.ts";
import { ONNX_IR_VERSION, ONNX_OPSET, OnnxGraph } from "./onnx/graph.ts";
import { LayerEmitter } from "./onnx/layers.ts";
import { type EmittedOutputs, emitVit } from "./onnx/vit.ts";

export { ONNX_IR_VERSION, ONNX_OPSET };

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** Input shape `[B, C, H, W]` the graph is built for (H, W are fixed in the graph). */
  inputShape: readonly number[];
  /** Leave the batch dim symbolic (`batch`) instead of `B` (default true). */
  dynamicBatch?: boolean;
}

/** Architectures {@link exportOnnx} can write. */
export const ONNX_SUPPORTED = [
  "ResNet (torchvision/resnet*)",
  "TinyCnn (sinter/tinycnn16)",
  "VisionTransformer (timm/vit_*)",
  "DinoVisionTransformer (dinov2/*)",
] as const;

/**
 * Throws unless `root` is a supported backbone and `shape` a valid input for it (before any
 * weights are read back).
 */
function validate(name: string, root: Module, shape: readonly number[]): void {
  if (root instanceof VisionTransformer || root instanceof DinoVisionTransformer) {
    root.checkInput(shape);
  } else if (!(root instanceof ResNet || root instanceof TinyCnn)) {
    throw new Error(
      `exportOnnx: ${name}: no ONNX export for a ${root.constructor.name} backbone; supported: ${
        ONNX_SUPPORTED.join(", ")
      }`,
    );
  }
}

/** Emits the backbone of a validated `root`; returns the outputs and `[C, H', W']`. */
function emit(
  root: Module,
  e: LayerEmitter,
  x: string,
  shape: readonly number[],
): { out: EmittedOutputs; dims: [number, number, number] } {
  const [, , h, w] = shape;
  if (root instanceof VisionTransformer || root instanceof DinoVisionTransformer) {
    const p = root.config.patchSize;
    const dino = root instanceof DinoVisionTransformer;
    const registers = dino ? root.config.numRegisterTokens : 0;
    const mode = dino ? root.config.interpolation : "aa";
    const out = emitVit(e, root, x, h / p, w / p, registers, mode);
    return { out, dims: [root.config.embedDim, h / p, w / p] };
  }
  const cnn = root as ResNet | TinyCnn;
  const features = cnn instanceof ResNet ? emitResNet(e, cnn, x) : emitTinyCnn(e, cnn, x);
  const pooled = e.g.op("ReduceMean", [features], {
    axes: { ints: [2, 3] },
    keepdims: { i: 0 },
  }, "global_avg");
  const [oh, ow] = cnn.featureSize(h, w);
  return { out: { features, pooled }, dims: [cnn.featureDim, oh, ow] };
}

function checkShape(name: string, shape: readonly number[], inChannels: number): void {
  const ok = shape.length === 4 && shape.every((d) => Number.isInteger(d) && d >= 1);
  if (!ok || shape[1] !== inChannels) {
    throw new Error(
      `exportOnnx: ${name}: inputShape must be [B, ${inChannels}, H, W] with positive integers, got ${
        fmtShape(shape)
      }`,
    );
  }
}

/**
 * Serializes the eval-mode forward of `model`'s backbone as an ONNX model (bytes of a
 * `ModelProto`). Reads the weights from the GPU (hence async); the model is not modified.
 *
 * @throws Error for an unsupported architecture or an input shape the model rejects.
 */
export async function exportOnnx(
  model: ModelWrapper,
  opts: OnnxExportOptions,
): Promise<Uint8Array> {
  const shape = [...opts.inputShape];
  checkShape(model.name, shape, model.inChannels);
  const root = model.getModel();
  validate(model.name, root, shape);
  const sd = await root.stateDict();
  const g = new OnnxGraph();
  const batch: number | string = opts.dynamicBatch ?? true ? "batch" : shape[0];
  const x = g.input("input", [batch, ...shape.slice(1)]);
  const { out, dims } = emit(root, new LayerEmitter(g, root, sd), x, shape);
  g.output(out.features, "features", [batch, ...dims]);
  g.output(out.pooled, "pooled", [batch, dims[0]]);
  return g.serialize(model.name.replace(/[^A-Za-z0-9_]+/g, "_"), {
    doc: `${model.name} backbone (eval): features [B, C, H', W'], pooled [B, C]`,
    metadata: {
      sinter_model: model.name,
      input_shape: JSON.stringify(shape),
      feature_dim: String(model.featureDim),
      pooled: model.architectureInfo.kind === "transformer" ? "class token" : "global average",
    },
  });
}

/**
 * Writes ONNX bytes to `path` atomically (temp file + rename; needs `--allow-write`).
 *
 * @throws Error naming the path and the cause when the file cannot be written.
 */
export async function saveOnnx(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
}
