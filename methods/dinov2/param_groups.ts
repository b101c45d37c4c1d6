/**
 * DINOv2's optimizer parameter groups (lightly-train `get_optimizer_with_decay`, from
 * facebookresearch/dinov2 `utils/param_groups.py`): layer-wise LR decay
 * `layerwise_decay^(L + 1 − layer_id)` over the backbone (layer 0: `pos_embed`, `patch_embed`,
 * `mask_token`, `cls_token`, `register_tokens`; block i: i + 1; the rest, and the heads: L + 1),
 * `patch_embed` LR × `patch_embed_lr_multiplier`, and no weight decay for names ending in
 * `.bias` or containing `norm` or `gamma` (so tokens and position embeddings are decayed, as
 * upstream). Parameters with the same LR, weight decay, head and last-layer flags share a group:
 * one group per (layer id, patch_embed, decay / no decay) in the backbone and `head`,
 * `head_no_weight_decay`, `head_last_layer` for the heads.
 *
 * @module
 */
import type { ParamGroupSpec } from "../../core/plugin.ts";
import type { Module } from "../../models/module.ts";

/** DINOv2's layer id of a backbone parameter name (`get_vit_lr_decay_rate`). */
export function vitLayerId(name: string, numLayers: number): number {
  if (/pos_embed|patch_embed|mask_token|cls_token|register_tokens/.test(name)) return 0;
  const i = name.indexOf("blocks.");
  if (i >= 0) return Number(name.slice(i).split(".")[1]) + 1;
  return numLayers + 1;
}

/** Whether DINOv2 excludes a parameter name from weight decay. */
export function dinov2NoDecay(name: string): boolean {
  return name.endsWith(".bias") || name.includes("norm") || name.includes("gamma");
}

/** Options of {@link dinov2ParamGroups}. */
export interface Dinov2GroupOptions {
  /** Blocks of the ViT. */
  numLayers: number;
  /** Per-layer LR decay (0.9). */
  layerwiseDecay: number;
  /** LR multiplier of `patch_embed` (0.2). */
  patchEmbedLrMultiplier: number;
}

/** The groups of the student backbone and heads (trainable parameters only). */
export function dinov2ParamGroups(
  backbone: Module,
  head: Module,
  o: Dinov2GroupOptions,
  prefixes = { backbone: "student_embedding_model.", head: "student_head." },
): ParamGroupSpec[] {
  const groups = new Map<string, ParamGroupSpec>();
  const add = (
    key: string,
    name: string,
    full: string,
    t: ParamGroupSpec["params"][0][1],
    lrScale: number,
  ) => {
    const noDecay = dinov2NoDecay(name);
    const gName = noDecay ? `${key}_no_weight_decay` : key;
    let g = groups.get(gName);
    if (!g) {
      g = { name: gName, params: [], lrScale, ...(noDecay ? { weightDecay: 0 } : {}) };
      groups.set(gName, g);
    }
    g.params.push([full, t]);
  };
  for (const [name, t] of backbone.namedParameters()) {
    if (!t.requiresGrad) continue;
    const id = vitLayerId(name, o.numLayers);
    const patch = name.includes("patch_embed");
    const lrScale = o.layerwiseDecay ** (o.numLayers + 1 - id) *
      (patch ? o.patchEmbedLrMultiplier : 1);
    const key = `backbone_layer${id}${patch ? "_patch_embed" : ""}`;
    add(key, name, prefixes.backbone + name, t, lrScale);
  }
  for (const [name, t] of head.namedParameters()) {
    if (!t.requiresGrad) continue;
    const key = name.includes("last_layer") ? "head_last_layer" : "head";
    add(key, name, prefixes.head + name, t, 1);
  }
  return [...groups.values()];
}
