// Parity handler of the ResNet model fixtures (`resnet_tv_*`, refdata README section 8):
// torchvision ResNet(BasicBlock, [1,1,1,1], num_classes=10) built by models/resnet.ts, weights
// loaded strictly from the case's `weights_file` (relative to the case folder), eval or train
// mode per the case; the forward runs without recording.
import type { Handler, HandlerResult } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import { noGrad, type Tensor, tensor, tidy } from "../../../core/mod.ts";
import "../../../kernels/mod.ts";
import { ResNet } from "../../../models/resnet.ts";
import type { HostTensor, StateDict } from "../../../models/module.ts";
import { loadSafetensors, type SafeFile, toFloat32 } from "../../../models/safetensors.ts";

/** A host state dict from a safetensors file (F32 as float32, I64 counters as int64). */
export function stateDictOf(f: SafeFile): StateDict {
  const out: StateDict = {};
  for (const [k, t] of f.tensors) {
    const entry: HostTensor = t.dtype === "I64"
      ? { dtype: "I64", shape: [...t.shape], data: t.data as BigInt64Array }
      : { dtype: "F32", shape: [...t.shape], data: toFloat32(t) };
    out[k] = entry;
  }
  return out;
}

const weightCache = new Map<string, Promise<StateDict>>();

/** The (cached) host state dict of a safetensors weights file. */
export function fixtureWeights(path: string): Promise<StateDict> {
  let p = weightCache.get(path);
  if (!p) {
    p = loadSafetensors(path).then(stateDictOf);
    weightCache.set(path, p);
  }
  return p;
}

/** Model input `x = (float32(u8) - 127.5) / 64`. */
export function imageToInput(u8: ArrayLike<number>): Float32Array {
  const x = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) x[i] = (u8[i] - 127.5) / 64;
  return x;
}

/** Runs a `resnet_tv_forward` case: layer4, pooled, logits (+ BN buffers in train mode). */
async function resnetTvForward(c: RefCase): Promise<HandlerResult> {
  const img = c.inputs.image_u8;
  if (!img) throw new Error(`${c.name}: input 'image_u8' is missing`);
  const file = c.parameters.weights_file;
  if (typeof file !== "string") throw new Error(`${c.name}: parameters.weights_file is missing`);
  const numClasses = typeof c.parameters.num_classes === "number" ? c.parameters.num_classes : 10;
  const weights = await fixtureWeights(`${c.dir}/${file}`);
  const model = new ResNet({ block: "basic", layers: [1, 1, 1, 1], numClasses });
  try {
    model.loadStateDict(weights, { strict: true, source: file });
    model.train(c.parameters.training === true);
    const x = tensor(imageToInput(img.data), img.shape);
    const outs = noGrad(() =>
      tidy(() => {
        const o = model.forwardAll(x);
        return { layer4: o.layer4, pooled: o.pooled, logits: o.logits! };
      })
    );
    x.dispose();
    const res: HandlerResult = {};
    for (const [k, t] of Object.entries(outs) as [string, Tensor][]) {
      res[k] = await t.data();
      t.dispose();
    }
    for (const [name, e] of model.stateEntries()) {
      if (!/running_mean|running_var|num_batches_tracked/.test(name)) continue;
      if (!(name in c.outputs)) continue;
      res[name] = "value" in e ? [e.value] : await e.data();
    }
    return res;
  } finally {
    model.dispose();
  }
}

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  resnet_tv_forward: resnetTvForward,
};
