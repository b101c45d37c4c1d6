/**
 * Sinter: self-supervised pretraining for vision models on WebGPU (LightlyTrain for Deno).
 *
 * ```ts
 * import { embed, exportModel, pretrain } from "@sinter/sinter";
 *
 * const run = await pretrain({
 *   out: "runs/exp",
 *   data: "images/",
 *   model: "torchvision/resnet18",
 *   method: "simclr",
 *   epochs: 10,
 * });
 * await exportModel({ out: "resnet18.onnx", checkpoint: run.checkpoint, format: "onnx" });
 * await embed({ out: "embeddings.csv", data: "images/", checkpoint: run.checkpoint });
 * ```
 *
 * The building blocks (tensors, autograd, kernels, models, method plugins) are exported too.
 *
 * @module
 */
export * from "./core/mod.ts";
export * from "./kernels/mod.ts";
export {
  pretrain,
  type PretrainHooks,
  type PretrainResult,
  TrainingError,
} from "./core/trainer.ts";
export { type ExportArgs, exportModel } from "./core/export.ts";
export { embed, type EmbedArgs, embedData, type Embeddings } from "./core/embed.ts";
export { createModel, listModels, type ModelWrapper, registerModel } from "./models/wrapper.ts";
export { BUILTIN_METHODS } from "./methods/mod.ts";
export {
  evalKnn,
  type EvalKnnArgs,
  knnAccuracy,
  type KnnEvalResult,
  knnEvaluate,
  KnnMonitor,
} from "./eval/knn.ts";
import "./models/mod.ts";
