/**
 * Parity handlers: one per refdata op. A handler runs the case through Sinter and returns
 * every output by name and every gradient as `grad:<input name>`; the runner compares all
 * of them with the case's own tolerance. Gradients use the case's `grad_weights` as the
 * backward seed of each weighted output.
 *
 * @module
 */
import type { RefCase, RefTensor } from "./refdata.ts";
import { backward, type Tensor, tensor, tidy } from "../../core/mod.ts";

/** What a handler returns. */
export type HandlerResult = Record<string, ArrayLike<number>>;

/** Runs one case. */
export type Handler = (c: RefCase) => Promise<HandlerResult>;

/** A GPU tensor from a refdata tensor; `grad` marks it as a leaf that collects a gradient. */
export function gpu(t: RefTensor, grad = t.requiresGrad ?? false): Tensor {
  const x = tensor(t.data, t.shape, t.dtype === "float32" ? "f32" : "i32");
  return grad ? x.requireGrad() : x;
}

/** Inputs of a case as GPU tensors (leaves require grad where the case gives a gradient). */
export function gpuInputs(c: RefCase): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.inputs)) out[k] = gpu(v);
  return out;
}

/**
 * Reads the outputs, back-propagates `L = Σ_k Σ_i out_k[i]·w_k[i]` over the weighted outputs
 * and reads every requested input gradient. Disposes everything it was given.
 */
export async function collect(
  c: RefCase,
  inputs: Record<string, Tensor>,
  outputs: Record<string, Tensor>,
  extra: HandlerResult = {},
): Promise<HandlerResult> {
  const res: HandlerResult = { ...extra };
  for (const [k, t] of Object.entries(outputs)) res[k] = await t.data();
  const weighted = Object.keys(c.gradWeights);
  if (weighted.length && Object.keys(c.gradients).length) {
    // One backward over the sum of weighted outputs: seed each with its weights.
    const { mul, sum, add } = await import("../../kernels/mod.ts");
    tidy(() => {
      let total: Tensor | null = null;
      for (const k of weighted) {
        const o = outputs[k];
        if (!o) throw new Error(`${c.name}: handler did not return weighted output '${k}'`);
        const w = tensor(c.gradWeights[k].data, o.shape);
        const term = sum(mul(o, w));
        total = total ? add(total, term) : term;
      }
      backward(total!);
    });
    for (const k of Object.keys(c.gradients)) {
      const g = inputs[k]?.grad;
      if (!g) throw new Error(`${c.name}: no gradient reached input '${k}'`);
      res[`grad:${k}`] = await g.data();
    }
  }
  for (const t of Object.values(inputs)) t.dispose();
  for (const t of Object.values(outputs)) t.dispose();
  return res;
}
