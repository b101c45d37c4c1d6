/**
 * `sinter/tinycnn16`: a small plain CNN for quick runs and tests. Seven conv3x3 (padding 1, no
 * bias) + BatchNorm + ReLU layers with 16, 32/2, 32, 64/2, 64, 128/2, 128 channels (`/2`: stride
 * 2), then global average pooling to 128-d. Parameter names are PyTorch-style:
 * `layers.{i}.conv.weight`, `layers.{i}.bn.{weight,bias,running_mean,running_var,
 * num_batches_tracked}` (the `state_dict` of an `nn.Sequential` of `ConvBnRelu` modules with
 * children `conv` and `bn`). Conv init as torchvision's ResNet (kaiming normal, fan_out, relu),
 * or with `init: "pytorch"` PyTorch's `nn.Conv2d` default (kaiming uniform, a = √5).
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { fmtShape, type Tensor, tidy } from "../core/tensor.ts";
import { BatchNorm, Conv2d } from "./layers.ts";
import { Module } from "./module.ts";
import { checkOptionKeys, ConvNetWrapper, kaimingNormalFanOut } from "./resnet.ts";
import { type ModelOptions, type ModelWrapper, registerModel } from "./wrapper.ts";

/** `[outChannels, stride]` of each layer of tinycnn16. */
export const TINYCNN16_LAYERS: readonly (readonly [number, number])[] = [
  [16, 1],
  [32, 2],
  [32, 1],
  [64, 2],
  [64, 1],
  [128, 2],
  [128, 1],
];

/** conv3x3 (no bias) -> BatchNorm -> ReLU. */
export class ConvBnRelu extends Module {
  /** 3x3 convolution, padding 1. */
  readonly conv: Conv2d;
  /** BatchNorm. */
  readonly bn: BatchNorm;

  constructor(
    inCh: number,
    outCh: number,
    stride: number,
    rng: Rng,
    init: TinyCnnInit = "torchvision",
  ) {
    super();
    this.conv = this.child(
      "conv",
      new Conv2d(inCh, outCh, 3, {
        stride,
        padding: 1,
        bias: false,
        rng,
        weightInit: init === "torchvision" ? kaimingNormalFanOut(outCh, 3, 3) : undefined,
      }),
    );
    this.bn = this.child("bn", new BatchNorm(outCh));
  }

  /** relu(bn(conv(x))), the BatchNorm and ReLU fused. */
  forward(x: Tensor): Tensor {
    return tidy(() => this.bn.forwardRelu(this.conv.forward(x)));
  }
}

/** An ordered list of modules named `0`, `1`, ... (PyTorch `nn.Sequential` naming). */
class Sequential extends Module {
  /** The modules in order. */
  readonly items: ConvBnRelu[];

  constructor(items: ConvBnRelu[]) {
    super();
    this.items = items.map((m, i) => this.child(String(i), m));
  }
}

/** Conv weight init: torchvision's ResNet rule, or PyTorch's layer default. */
export type TinyCnnInit = "torchvision" | "pytorch";

/** Options of {@link TinyCnn}. */
export interface TinyCnnConfig {
  /** Conv weight init (default "torchvision": kaiming normal, fan_out). */
  init?: TinyCnnInit;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
  /** Layers as `[outChannels, stride]` (default {@link TINYCNN16_LAYERS}). */
  layers?: readonly (readonly [number, number])[];
}

/** The tinycnn16 backbone (no head). */
export class TinyCnn extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Channels of the last feature map. */
  readonly featureDim: number;
  /** The conv-BN-ReLU layers. */
  readonly layers: ConvBnRelu[];
  readonly #strides: number[];

  constructor(config: TinyCnnConfig = {}) {
    super();
    const inCh = config.inChannels ?? 3;
    if (!Number.isInteger(inCh) || inCh < 1) {
      throw new Error(`sinter/tinycnn16: inChannels must be a positive integer, got ${inCh}`);
    }
    const spec = config.layers ?? TINYCNN16_LAYERS;
    const rng = new Rng(config.seed ?? 0);
    let c = inCh;
    const items = spec.map(([out, stride]) => {
      const m = new ConvBnRelu(c, out, stride, rng, config.init);
      c = out;
      return m;
    });
    this.layers = this.child("layers", new Sequential(items)).items;
    this.inChannels = inCh;
    this.featureDim = c;
    this.#strides = spec.map(([, s]) => s);
  }

  /**
   * Throws (before any GPU work) unless `shape` is `[B, inChannels, H, W]`, H, W >= 1, and in
   * training the last map has more than one value per channel for BatchNorm.
   */
  checkInput(shape: readonly number[], what = "sinter/tinycnn16"): void {
    if (shape.length !== 4 || shape[1] !== this.inChannels) {
      throw new Error(
        `${what}: expected input [B, ${this.inChannels}, H, W], got ${fmtShape(shape)}`,
      );
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${what}: input ${fmtShape(shape)} has an empty or invalid dimension`);
    }
    const [oh, ow] = this.featureSize(shape[2], shape[3]);
    if (this.training && shape[0] * oh * ow < 2) {
      throw new Error(
        `${what}: input ${fmtShape(shape)} gives a ${oh}x${ow} last map; BatchNorm in training ` +
          `needs more than one value per channel (use a larger batch or image)`,
      );
    }
  }

  /** Spatial size of the feature map for an input of `h x w`. */
  featureSize(h: number, w: number): [number, number] {
    for (const s of this.#strides) {
      h = Math.floor((h - 1) / s) + 1;
      w = Math.floor((w - 1) / s) + 1;
    }
    return [h, w];
  }

  /** The last feature map `[B, featureDim, ceil(H/8), ceil(W/8)]`. */
  forwardFeatures(x: Tensor): Tensor {
    this.checkInput(x.shape);
    return tidy(() => {
      let h = x;
      for (const l of this.layers) h = l.forward(h);
      return h;
    });
  }
}

registerModel({
  name: "sinter/tinycnn16",
  description: "small 7-layer CNN (conv3x3-BN-ReLU, 16..128 channels, 3 stride-2), 128-d",
  create(opts: ModelOptions): ModelWrapper {
    checkOptionKeys("sinter/tinycnn16", opts, ["inChannels", "seed", "init"]);
    const init = (opts.init ?? "torchvision") as TinyCnnInit;
    if (init !== "torchvision" && init !== "pytorch") {
      throw new Error(`sinter/tinycnn16: init must be "torchvision" or "pytorch", got ${init}`);
    }
    const model = new TinyCnn({ inChannels: opts.inChannels, seed: opts.seed, init });
    return new ConvNetWrapper("sinter/tinycnn16", model, {
      featureDim: model.featureDim,
      inChannels: model.inChannels,
      checkInput: (s) => model.checkInput(s),
    });
  },
});
