// Parity handlers: batch norm, layer norm, softmax, log_softmax, cross_entropy, l2_normalize,
// cosine_similarity.
import { collect, gpuInputs, type Handler } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import type { Tensor } from "../../../core/mod.ts";
import {
  batchNorm,
  cosineSimilarity,
  crossEntropy,
  l2Normalize,
  layerNorm,
  logSoftmax,
  softmax,
} from "../../../kernels/mod.ts";

function num(c: RefCase, key: string, fallback: number): number {
  const v = c.parameters[key];
  return typeof v === "number" ? v : fallback;
}

/** BatchNorm: y plus the running stats, which the op updates in place in training mode. */
const batchNormCase: Handler = (c) => {
  const i = gpuInputs(c);
  const training = c.parameters.training === true;
  const y = batchNorm(i.x, i.weight, i.bias, i.running_mean, i.running_var, {
    training,
    momentum: num(c, "momentum", 0.1),
    eps: num(c, "eps", 1e-5),
  });
  const outputs: Record<string, Tensor> = training
    ? { y, running_mean: i.running_mean, running_var: i.running_var }
    : { y };
  return collect(c, i, outputs);
};

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  batch_norm2d_train: batchNormCase,
  batch_norm2d_eval: batchNormCase,
  batch_norm1d_train: batchNormCase,
  layer_norm: (c) => {
    const i = gpuInputs(c);
    const shape = c.parameters.normalized_shape as number[] | undefined;
    if (shape && (shape.length !== 1 || shape[0] !== i.x.shape.at(-1))) {
      throw new Error(`${c.name}: only normalized_shape = [last dim] is supported`);
    }
    return collect(c, i, { y: layerNorm(i.x, i.weight, i.bias, num(c, "eps", 1e-5)) });
  },
  softmax: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: softmax(i.x, num(c, "dim", -1)) });
  },
  log_softmax: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: logSoftmax(i.x, num(c, "dim", -1)) });
  },
  cross_entropy: (c) => {
    if ((c.parameters.reduction ?? "mean") !== "mean") {
      throw new Error(`${c.name}: only reduction "mean" is supported`);
    }
    const i = gpuInputs(c);
    const target = i.labels ?? i.target_probs;
    return collect(c, i, { loss: crossEntropy(i.logits, target) });
  },
  l2_normalize: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: l2Normalize(i.x, num(c, "dim", 1), num(c, "eps", 1e-12)) });
  },
  cosine_similarity: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: cosineSimilarity(i.a, i.b, num(c, "dim", 1), num(c, "eps", 1e-8)) });
  },
};
