/**
 * Layers with PyTorch parameter names: Conv2d, BatchNorm, Linear, LayerNorm, Attention, Mlp,
 * LayerScale, DropPath. Initialization follows PyTorch's defaults unless an architecture
 * overrides it (see {@link InitFn}).
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import {
  batchNorm,
  batchNormRelu,
  conv2d,
  type Conv2dOptions,
  gelu,
  layerNorm,
  linear,
  mhsa,
  mul,
  relu,
} from "../kernels/mod.ts";
import { Module } from "./module.ts";

/** Draws initial values for a tensor of `shape` (host side). */
export type InitFn = (shape: number[], rng: Rng) => Float32Array;

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** U(-b, b). */
export function uniformInit(bound: number): InitFn {
  return (shape, rng) => rng.uniformArray(numel(shape), -bound, bound);
}

/** N(0, std²), optionally truncated at ±2 (timm's trunc_normal_ with a = -2, b = 2). */
export function normalInit(std: number, truncate = false): InitFn {
  return (shape, rng) => {
    const out = new Float32Array(numel(shape));
    for (let i = 0; i < out.length; i++) {
      let v = rng.normal() * std;
      while (truncate && Math.abs(v) > 2) v = rng.normal() * std;
      out[i] = v;
    }
    return out;
  };
}

/** A constant. */
export function constInit(value: number): InitFn {
  return (shape) => new Float32Array(numel(shape)).fill(value);
}

/** The default generator for initialization; models take a seed to make their own. */
export const defaultRng: Rng = new Rng(0);

/** A learnable tensor made by `init`. */
function make(shape: number[], init: InitFn, rng: Rng): Tensor {
  return tensor(init(shape, rng), shape);
}

/** Options shared by layer constructors. */
export interface LayerInit {
  /** Generator for the initial values. */
  rng?: Rng;
  /** Weight initializer (default: PyTorch's kaiming-uniform a=√5, i.e. U(±1/√fan_in)). */
  weightInit?: InitFn;
  /** Bias initializer (default U(±1/√fan_in)). */
  biasInit?: InitFn;
}

/** `nn.Conv2d`: `weight [out, in/groups, kh, kw]`, optional `bias [out]`. */
export class Conv2d extends Module {
  /** Weight. */
  readonly weight: Tensor;
  /** Bias or null. */
  readonly bias: Tensor | null;
  /** Convolution options. */
  readonly opts: Conv2dOptions;

  constructor(
    inCh: number,
    outCh: number,
    kernel: number | [number, number],
    opts: Conv2dOptions & LayerInit & { bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = typeof kernel === "number" ? [kernel, kernel] : kernel;
    const groups = opts.groups ?? 1;
    const fanIn = (inCh / groups) * kh * kw;
    const rng = opts.rng ?? defaultRng;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.param(
      "weight",
      make([outCh, inCh / groups, kh, kw], opts.weightInit ?? uniformInit(bound), rng),
    );
    this.bias = opts.bias === false
      ? null
      : this.param("bias", make([outCh], opts.biasInit ?? uniformInit(bound), rng));
    this.opts = {
      stride: opts.stride,
      padding: opts.padding,
      dilation: opts.dilation,
      groups: opts.groups,
    };
  }

  /** y = conv2d(x). */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.opts);
  }
}

/** `nn.BatchNorm1d/2d`: `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`. */
export class BatchNorm extends Module {
  /** Scale. */
  readonly weight: Tensor;
  /** Shift. */
  readonly bias: Tensor;
  /** Running mean. */
  readonly runningMean: Tensor;
  /** Running (unbiased) variance. */
  readonly runningVar: Tensor;
  /** PyTorch's counter of training batches. */
  readonly numBatchesTracked: { value: number };
  /** Epsilon. */
  readonly eps: number;
  /** Running-average momentum. */
  readonly momentum: number;

  constructor(channels: number, opts: { eps?: number; momentum?: number } = {}) {
    super();
    this.weight = this.param("weight", tensor(new Float32Array(channels).fill(1), [channels]));
    this.bias = this.param("bias", tensor(new Float32Array(channels), [channels]));
    this.runningMean = this.buffer("running_mean", tensor(new Float32Array(channels), [channels]));
    this.runningVar = this.buffer(
      "running_var",
      tensor(new Float32Array(channels).fill(1), [channels]),
    );
    this.numBatchesTracked = this.counter("num_batches_tracked", 0);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
  }

  /** Batch statistics (and running-stat update) in training, running statistics in eval. */
  forward(x: Tensor): Tensor {
    if (this.training) this.numBatchesTracked.value++;
    return batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  /** `relu(forward(x))` as one fused op ({@link batchNormRelu}). */
  forwardRelu(x: Tensor): Tensor {
    if (this.training) this.numBatchesTracked.value++;
    return batchNormRelu(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** `nn.Linear`: `weight [out, in]`, optional `bias [out]`. */
export class Linear extends Module {
  /** Weight. */
  readonly weight: Tensor;
  /** Bias or null. */
  readonly bias: Tensor | null;

  constructor(inF: number, outF: number, opts: LayerInit & { bias?: boolean } = {}) {
    super();
    const rng = opts.rng ?? defaultRng;
    const bound = 1 / Math.sqrt(inF);
    this.weight = this.param(
      "weight",
      make([outF, inF], opts.weightInit ?? uniformInit(bound), rng),
    );
    this.bias = opts.bias === false
      ? null
      : this.param("bias", make([outF], opts.biasInit ?? uniformInit(bound), rng));
  }

  /** y = x W^T + b. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** `nn.LayerNorm` over the last dim. */
export class LayerNorm extends Module {
  /** Scale. */
  readonly weight: Tensor;
  /** Shift. */
  readonly bias: Tensor;
  /** Epsilon (timm / DINOv2 use 1e-6). */
  readonly eps: number;

  constructor(dim: number, eps = 1e-6) {
    super();
    this.weight = this.param("weight", tensor(new Float32Array(dim).fill(1), [dim]));
    this.bias = this.param("bias", tensor(new Float32Array(dim), [dim]));
    this.eps = eps;
  }

  /** Normalizes the last dim. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** timm / DINOv2 `Attention`: `qkv` Linear(C, 3C) and `proj` Linear(C, C). */
export class Attention extends Module {
  /** Packed q/k/v projection. */
  readonly qkv: Linear;
  /** Output projection. */
  readonly proj: Linear;
  /** Number of heads. */
  readonly numHeads: number;

  constructor(dim: number, numHeads: number, opts: LayerInit & { qkvBias?: boolean } = {}) {
    super();
    this.qkv = this.child("qkv", new Linear(dim, 3 * dim, { ...opts, bias: opts.qkvBias ?? true }));
    this.proj = this.child("proj", new Linear(dim, dim, opts));
    this.numHeads = numHeads;
  }

  /** Self-attention of `x [B, N, C]`. */
  forward(x: Tensor): Tensor {
    const { y, attn } = mhsa(
      x,
      this.qkv.weight,
      this.qkv.bias,
      this.proj.weight,
      this.proj.bias,
      this.numHeads,
    );
    attn.dispose();
    return y;
  }
}

/** timm `Mlp`: fc1 -> GELU (erf) -> fc2. */
export class Mlp extends Module {
  /** Expansion. */
  readonly fc1: Linear;
  /** Projection back. */
  readonly fc2: Linear;

  constructor(dim: number, hidden: number, opts: LayerInit = {}) {
    super();
    this.fc1 = this.child("fc1", new Linear(dim, hidden, opts));
    this.fc2 = this.child("fc2", new Linear(hidden, dim, opts));
  }

  /** fc2(gelu(fc1(x))). */
  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

/** DINOv2 `LayerScale`: `x * gamma` per channel. */
export class LayerScale extends Module {
  /** Per-channel scale. */
  readonly gamma: Tensor;

  constructor(dim: number, initValue = 1e-5) {
    super();
    this.gamma = this.param("gamma", tensor(new Float32Array(dim).fill(initValue), [dim]));
  }

  /** x * gamma. */
  forward(x: Tensor): Tensor {
    return mul(x, this.gamma);
  }
}

/**
 * Stochastic depth: in training, each sample's residual branch is zeroed with probability `p`
 * and the others scaled by 1/(1-p) (timm `drop_path`). Identity in eval or when p = 0.
 */
export class DropPath extends Module {
  /** Drop probability. */
  readonly p: number;
  /** Generator of the per-sample masks (its state belongs in checkpoints). */
  readonly rng: Rng;

  constructor(p: number, rng: Rng = new Rng(1)) {
    super();
    this.p = p;
    this.rng = rng;
  }

  /** Applies the per-sample mask to a branch output `x [B, ...]`. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const b = x.shape[0];
    const keepP = 1 - this.p;
    const mask = new Float32Array(b);
    for (let i = 0; i < b; i++) mask[i] = this.rng.next() < keepP ? 1 / keepP : 0;
    const m = tensor(mask, [b, ...x.shape.slice(1).map(() => 1)]);
    return mul(x, m);
  }
}

/** `relu` as a function, for symmetry with the layers in architecture code. */
export { relu };
