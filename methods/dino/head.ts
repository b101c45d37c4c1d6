/**
 * The DINO projection head: an MLP (`Linear-GELU-Linear-GELU-Linear`, optional BatchNorm), L2
 * normalization, then a weight-normed `Linear(bottleneck, output, bias=False)` whose weight is
 * `W[o] = g[o] · v[o] / ||v[o]||` with `g` initialized to 1.
 *
 * Two naming styles with PyTorch `state_dict` names, so weights load and export both ways:
 * - `"lightly"`: LightlySSL `DINOProjectionHead` (DINO): `layers.{0,2,4}` (with BatchNorm:
 *   `layers.{0,1,3,4,6}` and no bias before a BatchNorm), `last_layer.weight_g` then
 *   `last_layer.weight_v` (`torch.nn.utils.weight_norm`); `g` frozen when `normLastLayer`.
 * - `"dinov2"`: lightly-train `DINOv2ProjectionHead`: `mlp.{0,2,4}` (with BatchNorm:
 *   `mlp.{0,1,3,4,6}`, biases always), `last_layer.parametrizations.weight.original0` (g) and
 *   `.original1` (v) (`torch.nn.utils.parametrizations.weight_norm`); `g` trainable.
 *
 * MLP weights are trunc-normal(0.02) with zero biases; `v` keeps PyTorch's default `Linear` init
 * (`U(±1/√bottleneck)`), as upstream initializes the MLP before creating the last layer.
 *
 * @module
 */
import { Rng } from "../../core/random.ts";
import { type Tensor, tensor } from "../../core/tensor.ts";
import { gelu, l2Normalize, linear, mul } from "../../kernels/mod.ts";
import { BatchNorm, constInit, Linear, normalInit, uniformInit } from "../../models/layers.ts";
import { Module } from "../../models/module.ts";

/** Naming and defaults of the head (see the module doc). */
export type DinoHeadStyle = "lightly" | "dinov2";

/** Options of {@link DINOProjectionHead}. */
export interface DinoHeadOptions {
  /** Input width (the backbone's feature dim). */
  inputDim: number;
  /** Hidden width of the MLP (2048). */
  hiddenDim: number;
  /** Bottleneck width before the last layer (256). */
  bottleneckDim: number;
  /** Output width (prototypes). */
  outputDim: number;
  /** BatchNorm after the two hidden Linears (default false). */
  batchNorm?: boolean;
  /** Freeze the weight-norm gain `g` at 1 (lightly `norm_last_layer`; default: true for
   * `"lightly"`, false for `"dinov2"`). */
  normLastLayer?: boolean;
  /** Naming style (default `"lightly"`). */
  style?: DinoHeadStyle;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** A module holding tensors registered from outside (nesting for PyTorch names). */
class Holder extends Module {
  add(name: string, t: Tensor): Tensor {
    return this.param(name, t);
  }
  nest<M extends Module>(name: string, m: M): M {
    return this.child(name, m);
  }
}

/** `weight_norm(Linear(in, out, bias=False))` with gain `g [out, 1]` and direction `v [out, in]`. */
export class WeightNormLinear extends Module {
  /** Gain `g` `[out, 1]` (initialized to 1). */
  readonly weightG: Tensor;
  /** Direction `v` `[out, in]`. */
  readonly weightV: Tensor;

  constructor(
    inF: number,
    outF: number,
    opts: { rng: Rng; trainableG: boolean; style: DinoHeadStyle },
  ) {
    super();
    const v = tensor(uniformInit(1 / Math.sqrt(inF))([outF, inF], opts.rng), [outF, inF]);
    const g = tensor(new Float32Array(outF).fill(1), [outF, 1]);
    if (opts.style === "lightly") {
      this.weightG = this.param("weight_g", g);
      this.weightV = this.param("weight_v", v);
    } else {
      const w = this.child("parametrizations", new Holder()).nest("weight", new Holder());
      this.weightG = w.add("original0", g);
      this.weightV = w.add("original1", v);
    }
    if (!opts.trainableG) this.weightG.requiresGrad = false;
  }

  /** The effective weight `g · v / ||v||` (rows), differentiable in `g` and `v`. */
  weight(): Tensor {
    return mul(l2Normalize(this.weightV, 1, 0), this.weightG);
  }

  /** `x W^T`. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight(), null);
  }
}

type Layer = Linear | BatchNorm | "gelu";

/** LightlySSL `DINOProjectionHead` / lightly-train `DINOv2ProjectionHead` (see module doc). */
export class DINOProjectionHead extends Module {
  /** The weight-normed prototype layer (`last_layer`). */
  readonly lastLayer: WeightNormLinear;
  /** Resolved options. */
  readonly options: Required<DinoHeadOptions>;
  readonly #layers: Layer[] = [];

  constructor(opts: DinoHeadOptions) {
    super();
    const style = opts.style ?? "lightly";
    const o: Required<DinoHeadOptions> = {
      inputDim: opts.inputDim,
      hiddenDim: opts.hiddenDim,
      bottleneckDim: opts.bottleneckDim,
      outputDim: opts.outputDim,
      batchNorm: opts.batchNorm ?? false,
      normLastLayer: opts.normLastLayer ?? style === "lightly",
      seed: opts.seed ?? 0,
      style,
    };
    for (const k of ["inputDim", "hiddenDim", "bottleneckDim", "outputDim"] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) {
        throw new Error(`DINOProjectionHead: ${k} must be a positive integer, got ${o[k]}`);
      }
    }
    this.options = o;
    const rng = new Rng(o.seed);
    const mlp = this.child(style === "lightly" ? "layers" : "mlp", new Holder());
    const init = { rng, weightInit: normalInit(0.02, true), biasInit: constInit(0) };
    const dims = [o.inputDim, o.hiddenDim, o.hiddenDim, o.bottleneckDim];
    let idx = 0;
    for (let l = 0; l < 3; l++) {
      const hidden = l < 2;
      const bn = hidden && o.batchNorm;
      // lightly drops the Linear bias before a BatchNorm; DINOv2 keeps every bias.
      const bias = style === "dinov2" || !bn;
      this.#layers.push(mlp.nest(`${idx++}`, new Linear(dims[l], dims[l + 1], { ...init, bias })));
      if (bn) this.#layers.push(mlp.nest(`${idx++}`, new BatchNorm(dims[l + 1])));
      if (hidden) {
        this.#layers.push("gelu");
        idx++;
      }
    }
    this.lastLayer = this.child(
      "last_layer",
      new WeightNormLinear(o.bottleneckDim, o.outputDim, {
        rng,
        trainableG: !o.normLastLayer,
        style,
      }),
    );
  }

  /** The MLP and L2 normalization: `[N, in]` -> `[N, bottleneck]` on the unit sphere. */
  bottleneck(x: Tensor): Tensor {
    let h = x;
    for (const l of this.#layers) h = l === "gelu" ? gelu(h) : l.forward(h);
    return l2Normalize(h, -1, 1e-12);
  }

  /** `[N, in]` -> `[N, output]`. */
  forward(x: Tensor): Tensor {
    return this.lastLayer.forward(this.bottleneck(x));
  }

  /** `[name, tensor]` of the last layer's parameters, with `prefix`. */
  lastLayerParameters(prefix = ""): [string, Tensor][] {
    return this.lastLayer.namedParameters(`${prefix}last_layer.`);
  }
}
