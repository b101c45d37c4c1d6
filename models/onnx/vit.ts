/**
 * ONNX emitter of the transformer backbones: timm {@link VisionTransformer} and DINOv2
 * {@link DinoVisionTransformer} (eval mode, no masks). Conv patch embedding, the position table
 * resampled on the host for the export size and stored as a constant (float64 separable
 * bicubic of `pos_embed.ts`, rounded to float32), `[cls + pos0, registers...]` expanded to the
 * batch and concatenated before the patches, the blocks, the final norm, then `features` =
 * patch tokens as a grid and `pooled` = the class token.
 *
 * @module
 */
import type { DinoVisionTransformer } from "../dinov2.ts";
import { interpolatePosEmbedRef, type PosEmbedMode } from "../pos_embed.ts";
import type { VisionTransformer } from "../vit.ts";
import type { LayerEmitter } from "./layers.ts";

/** Values a backbone emitter produces. */
export interface EmittedOutputs {
  /** `[B, C, H', W']`. */
  features: string;
  /** `[B, C]`. */
  pooled: string;
}

/**
 * A timm or DINOv2 ViT on input `x [B, Cin, gh*p, gw*p]`. `registers` is 0 for timm;
 * `mode` is how the position table is resampled (timm: `aa`).
 */
export function emitVit(
  e: LayerEmitter,
  m: VisionTransformer | DinoVisionTransformer,
  x: string,
  gh: number,
  gw: number,
  registers: number,
  mode: PosEmbedMode,
): EmittedOutputs {
  const g = e.g;
  const d = m.config.embedDim;
  const n = gh * gw, prefix = 1 + registers, tokens = prefix + n;

  // Patch tokens [B, N, D] + resampled position rows.
  const proj = e.conv(m.patchEmbed.proj, x);
  const flat = g.op("Reshape", [proj, g.ints([0, d, n])]);
  const patches = g.op("Transpose", [flat], { perm: { ints: [0, 2, 1] } }, "patch_tokens");
  const pos = e.host(m, "pos_embed").data;
  const table = interpolatePosEmbedRef(pos, d, gh, gw, mode);
  const posPatches = g.weight(`pos_embed_${gh}x${gw}`, Float32Array.from(table.subarray(d)), [
    1,
    n,
    d,
  ]);
  const withPos = g.op("Add", [patches, posPatches]);

  // [cls + pos0, reg0.., ] as one constant [1, 1 + R, D], expanded over the batch.
  const cls = e.host(m, "cls_token").data;
  const head = new Float32Array(prefix * d);
  for (let k = 0; k < d; k++) head[k] = Math.fround(cls[k] + pos[k]);
  if (registers > 0) head.set(e.host(m, "register_tokens").data, d);
  const headConst = g.weight(registers > 0 ? "cls_pos_registers" : "cls_pos", head, [
    1,
    prefix,
    d,
  ]);
  const batch = g.op("Shape", [x], { start: { i: 0 }, end: { i: 1 } }, "batch_size");
  const headShape = g.op("Concat", [batch, g.ints([prefix, d])], { axis: { i: 0 } });
  const headTokens = g.op("Expand", [headConst, headShape], {}, "prefix_tokens");
  let h = g.op("Concat", [headTokens, withPos], { axis: { i: 1 } }, "tokens");

  for (const b of m.blocks.items) h = e.vitBlock(b, h, tokens);
  const normed = e.layerNorm(m.norm, h);

  const pooled = g.op("Gather", [normed, g.ints([0], true)], { axis: { i: 1 } }, "cls_token");
  const patchOut = g.op("Slice", [normed, g.ints([prefix]), g.ints([tokens]), g.ints([1])]);
  const chw = g.op("Transpose", [patchOut], { perm: { ints: [0, 2, 1] } });
  const features = g.op("Reshape", [chw, g.ints([0, d, gh, gw])], {}, "feature_grid");
  return { features, pooled };
}
