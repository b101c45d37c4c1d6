// Parity handlers of the ViT model fixtures (refdata README §8): the DINOv2 ViT-S/14 (depth 2,
// 4 registers) forward in both pos_embed interpolation modes, with masks and
// get_intermediate_layers; DINOv2 interpolate_pos_encoding alone; the timm ViT-Tiny/4 forward.
// Weights are loaded strictly from the case's `parameters.weights_file`.
import { collect, type Handler } from "../registry.ts";
import { modelFixturesDir, type RefCase, type RefTensor } from "../refdata.ts";
import { noGrad, type Tensor, tensor } from "../../../core/mod.ts";
import { concat } from "../../../kernels/mod.ts";
import { loadSafetensors, toFloat32 } from "../../../models/safetensors.ts";
import type { Module, StateDict } from "../../../models/module.ts";
import { DinoVisionTransformer } from "../../../models/dinov2.ts";
import { VisionTransformer } from "../../../models/vit.ts";
import {
  interpolatePosEmbed,
  PosEmbedMatrices,
  type PosEmbedMode,
} from "../../../models/pos_embed.ts";

const weightCache = new Map<string, StateDict>();

/** The fixture folder of a case (the runner sets `dir`; else `SINTER_MODEL_FIXTURES`). */
function caseDir(c: RefCase): string {
  return (c as { dir?: string }).dir ?? modelFixturesDir();
}

/** Reads a weights file into a host state dict (cached per path). */
export async function fixtureStateDict(path: string): Promise<StateDict> {
  let sd = weightCache.get(path);
  if (!sd) {
    const f = await loadSafetensors(path);
    sd = {};
    for (const [k, t] of f.tensors) {
      sd[k] = t.dtype === "I64"
        ? { dtype: "I64", shape: [...t.shape], data: t.data as BigInt64Array }
        : { dtype: "F32", shape: [...t.shape], data: toFloat32(t) };
    }
    weightCache.set(path, sd);
  }
  return sd;
}

/** Loads the case's `weights_file` into `model`, strictly. */
async function loadWeights(c: RefCase, model: Module): Promise<void> {
  const file = c.parameters.weights_file;
  if (typeof file !== "string") throw new Error(`${c.name}: parameters.weights_file is missing`);
  const path = `${caseDir(c)}/${file}`;
  model.loadStateDict(await fixtureStateDict(path), { strict: true, source: path });
}

function num(c: RefCase, key: string): number {
  const v = c.parameters[key];
  if (typeof v !== "number") throw new Error(`${c.name}: parameters.${key} must be a number`);
  return v;
}

function input(c: RefCase, key: string): RefTensor {
  const t = c.inputs[key];
  if (!t) throw new Error(`${c.name}: input '${key}' is missing`);
  return t;
}

/** The model input `x = (float32(image_u8) - 127.5) / 64` (exact in float32). */
export function imageTensor(t: RefTensor): Tensor {
  return tensor(Float32Array.from(t.data, (v) => (v - 127.5) / 64), t.shape);
}

/** DINOv2 ViT forward: x_norm_clstoken/regtokens/patchtokens (+ intermediate_last2_cat). */
const dinov2VitForward: Handler = async (c) => {
  const interp = c.parameters.interpolation;
  if (interp !== "aa" && interp !== "offset") {
    throw new Error(`${c.name}: parameters.interpolation must be 'aa' or 'offset'`);
  }
  const model = new DinoVisionTransformer({
    imgSize: num(c, "img_size"),
    patchSize: num(c, "patch_size"),
    embedDim: num(c, "embed_dim"),
    depth: num(c, "depth"),
    numHeads: num(c, "num_heads"),
    mlpRatio: num(c, "mlp_ratio"),
    numRegisterTokens: num(c, "num_register_tokens"),
    interpolation: interp,
    initValues: num(c, "layerscale_init"),
  }).eval();
  try {
    await loadWeights(c, model);
    const img = input(c, "image_u8");
    const x = imageTensor(img);
    const m = c.inputs.masks;
    const masks = m ? tensor(Float32Array.from(m.data), m.shape) : undefined;
    // No gradients are given for model cases: run without recording.
    const f = noGrad(() => model.forwardFeatures(x, masks));
    const outputs: Record<string, Tensor> = {
      x_norm_clstoken: f.clsToken,
      x_norm_patchtokens: f.patchTokens,
    };
    if (f.regTokens) outputs.x_norm_regtokens = f.regTokens;
    if (c.outputs.intermediate_last2_cat) {
      const n = typeof c.parameters.intermediate_n === "number" ? c.parameters.intermediate_n : 2;
      const layers = noGrad(() => model.getIntermediateLayers(x, n, { reshape: true, norm: true }));
      outputs.intermediate_last2_cat = concat(layers.map((l) => l.patches), 1);
      for (const l of layers) l.patches.dispose();
    }
    const inputs: Record<string, Tensor> = { x };
    if (masks) inputs.masks = masks;
    return await collect(c, inputs, outputs);
  } finally {
    model.dispose();
  }
};

/** DINOv2 interpolate_pos_encoding: every `<mode>_<gh>x<gw>` output of the case. */
const dinov2InterpolatePosEncoding: Handler = async (c) => {
  const pos = tensor(input(c, "pos_embed").data, input(c, "pos_embed").shape);
  const mats = new PosEmbedMatrices();
  const outputs: Record<string, Tensor> = {};
  try {
    for (const key of Object.keys(c.outputs)) {
      const m = /^(aa|offset)_(\d+)x(\d+)$/.exec(key);
      if (!m) throw new Error(`${c.name}: output '${key}' is not <aa|offset>_<gh>x<gw>`);
      outputs[key] = interpolatePosEmbed(
        pos,
        Number(m[2]),
        Number(m[3]),
        m[1] as PosEmbedMode,
        mats,
      );
    }
    return await collect(c, { pos }, outputs);
  } finally {
    pos.dispose();
    mats.dispose();
  }
};

/** timm ViT forward: cls_features = norm(blocks(tokens))[:, 0]. */
const vitTinyForward: Handler = async (c) => {
  const initValues = c.parameters.init_values;
  const model = new VisionTransformer({
    imgSize: num(c, "img_size"),
    patchSize: num(c, "patch_size"),
    embedDim: num(c, "embed_dim"),
    depth: num(c, "depth"),
    numHeads: num(c, "num_heads"),
    mlpRatio: num(c, "mlp_ratio"),
    qkvBias: c.parameters.qkv_bias !== false,
    initValues: typeof initValues === "number" ? initValues : null,
  }).eval();
  try {
    await loadWeights(c, model);
    const x = imageTensor(input(c, "image_u8"));
    const f = noGrad(() => model.forwardFeatures(x));
    f.patchTokens.dispose();
    return await collect(c, { x }, { cls_features: f.clsToken });
  } finally {
    model.dispose();
  }
};

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  dinov2_vit_forward: dinov2VitForward,
  dinov2_interpolate_pos_encoding: dinov2InterpolatePosEncoding,
  vit_tiny_forward: vitTinyForward,
};
