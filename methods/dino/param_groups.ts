/**
 * LightlySSL's `get_weight_decay_parameters` rule (used by DINO): parameters owned by a
 * normalization layer and parameters named `bias` get no weight decay; everything else
 * (including ViT tokens, position embeddings and LayerScale gammas) is decayed.
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { BatchNorm, LayerNorm } from "../../models/layers.ts";
import type { Module } from "../../models/module.ts";

const NORM_CLASS = /^(Batch|Layer|Group|Instance|LocalResponse|CrossMapLRN)Norm/;

function isNormLayer(m: Module): boolean {
  return m instanceof BatchNorm || m instanceof LayerNorm || NORM_CLASS.test(m.constructor.name);
}

/** `[decay, noDecay]` named parameters of `module` (names with `prefix`), LightlySSL's rule. */
export function lightlyWeightDecaySplit(
  module: Module,
  prefix = "",
): { decay: [string, Tensor][]; noDecay: [string, Tensor][] } {
  const decay: [string, Tensor][] = [];
  const noDecay: [string, Tensor][] = [];
  const walk = (m: Module, p: string) => {
    const norm = isNormLayer(m);
    const inChildren = new Set(
      m.children().flatMap(([, c]) => c.namedParameters().map(([, t]) => t)),
    );
    for (const [name, t] of m.namedParameters(p)) {
      if (inChildren.has(t)) continue;
      (norm || /(^|\.)bias$/.test(name) ? noDecay : decay).push([name, t]);
    }
    for (const [n, c] of m.children()) walk(c, `${p}${n}.`);
  };
  walk(module, prefix);
  return { decay, noDecay };
}
