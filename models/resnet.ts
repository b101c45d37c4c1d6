/**
 * torchvision ResNet (v1.5): the same module tree, parameter names, `state_dict` order and
 * initialization as `torchvision.models.resnet`, so torchvision checkpoints load strictly and
 * exported weights load in PyTorch. BasicBlock (resnet18/34) and Bottleneck (resnet50, stride on
 * the 3x3 conv), any per-stage block counts, an optional `fc`, any input channel count, a CIFAR
 * stem (3x3 stride-1 conv, no max-pool) and a base `width` for tiny test instances.
 *
 * Registers `torchvision/resnet18`, `torchvision/resnet34` and `torchvision/resnet50`.
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { fmtShape, type Tensor, tidy } from "../core/tensor.ts";
import { add, maxPool2d, mean, relu } from "../kernels/mod.ts";
import { BatchNorm, Conv2d, type InitFn, Linear, normalInit } from "./layers.ts";
import { Module } from "./module.ts";
import {
  type ArchitectureInfo,
  type FeatureOutput,
  type ForwardOptions,
  globalAvgPool,
  type ModelOptions,
  type ModelWrapper,
  registerModel,
} from "./wrapper.ts";

/** Residual block type: BasicBlock (two 3x3 convs) or Bottleneck (1x1, 3x3, 1x1; expansion 4). */
export type ResNetBlockType = "basic" | "bottleneck";

/** Architecture of a {@link ResNet}. */
export interface ResNetConfig {
  /** Block type. */
  block: ResNetBlockType;
  /** Blocks per stage `[n1, n2, n3, n4]` (resnet18 `[2,2,2,2]`, resnet34/50 `[3,4,6,3]`). */
  layers: readonly number[];
  /** Classes of the `fc` head; 0 or absent: no `fc` (a backbone). */
  numClasses?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** CIFAR stem: conv1 3x3 stride 1 padding 1 and no max-pool (default false). */
  cifarStem?: boolean;
  /** Planes of the first stage (torchvision: 64); stages use width, 2w, 4w, 8w. */
  width?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** torchvision's conv init: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`. */
export function kaimingNormalFanOut(outCh: number, kh: number, kw: number): InitFn {
  return normalInit(Math.sqrt(2 / (outCh * kh * kw)));
}

/** A bias-free convolution with torchvision's ResNet init. */
function conv(
  inCh: number,
  outCh: number,
  k: number,
  stride: number,
  padding: number,
  rng: Rng,
): Conv2d {
  return new Conv2d(inCh, outCh, k, {
    stride,
    padding,
    bias: false,
    rng,
    weightInit: kaimingNormalFanOut(outCh, k, k),
  });
}

/** The projection shortcut `downsample = Sequential(conv1x1(stride), BatchNorm)`. */
export class Downsample extends Module {
  /** `downsample.0`: 1x1 convolution. */
  readonly conv: Conv2d;
  /** `downsample.1`: BatchNorm. */
  readonly bn: BatchNorm;

  constructor(inCh: number, outCh: number, stride: number, rng: Rng) {
    super();
    this.conv = this.child("0", conv(inCh, outCh, 1, stride, 0, rng));
    this.bn = this.child("1", new BatchNorm(outCh));
  }

  /** bn(conv(x)). */
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

/** A residual block of a stage. */
export interface ResidualBlock extends Module {
  /** The block's output for `x`. */
  forward(x: Tensor): Tensor;
}

/** torchvision `BasicBlock` (expansion 1): `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut)`. */
export class BasicBlock extends Module implements ResidualBlock {
  /** Output channels per plane. */
  static readonly expansion = 1;
  /** 3x3 conv, carries the stride. */
  readonly conv1: Conv2d;
  /** BN after conv1. */
  readonly bn1: BatchNorm;
  /** 3x3 conv. */
  readonly conv2: Conv2d;
  /** BN after conv2. */
  readonly bn2: BatchNorm;
  /** Projection shortcut, or null for identity. */
  readonly downsample: Downsample | null;

  constructor(inCh: number, planes: number, stride: number, rng: Rng) {
    super();
    this.conv1 = this.child("conv1", conv(inCh, planes, 3, stride, 1, rng));
    this.bn1 = this.child("bn1", new BatchNorm(planes));
    this.conv2 = this.child("conv2", conv(planes, planes, 3, 1, 1, rng));
    this.bn2 = this.child("bn2", new BatchNorm(planes));
    this.downsample = stride !== 1 || inCh !== planes
      ? this.child("downsample", new Downsample(inCh, planes, stride, rng))
      : null;
  }

  /** Block output. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = relu(this.bn1.forward(this.conv1.forward(x)));
      h = this.bn2.forward(this.conv2.forward(h));
      const idn = this.downsample ? this.downsample.forward(x) : x;
      return relu(add(h, idn));
    });
  }
}

/**
 * torchvision `Bottleneck` (v1.5, expansion 4): conv1 1x1 -> conv2 3x3 (stride) -> conv3 1x1
 * to `4 * planes`, each followed by BN, ReLU after bn1, bn2 and the residual sum.
 */
export class Bottleneck extends Module implements ResidualBlock {
  /** Output channels per plane. */
  static readonly expansion = 4;
  /** 1x1 reduction. */
  readonly conv1: Conv2d;
  /** BN after conv1. */
  readonly bn1: BatchNorm;
  /** 3x3 conv, carries the stride. */
  readonly conv2: Conv2d;
  /** BN after conv2. */
  readonly bn2: BatchNorm;
  /** 1x1 expansion. */
  readonly conv3: Conv2d;
  /** BN after conv3. */
  readonly bn3: BatchNorm;
  /** Projection shortcut, or null for identity. */
  readonly downsample: Downsample | null;

  constructor(inCh: number, planes: number, stride: number, rng: Rng) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.child("conv1", conv(inCh, planes, 1, 1, 0, rng));
    this.bn1 = this.child("bn1", new BatchNorm(planes));
    this.conv2 = this.child("conv2", conv(planes, planes, 3, stride, 1, rng));
    this.bn2 = this.child("bn2", new BatchNorm(planes));
    this.conv3 = this.child("conv3", conv(planes, out, 1, 1, 0, rng));
    this.bn3 = this.child("bn3", new BatchNorm(out));
    this.downsample = stride !== 1 || inCh !== out
      ? this.child("downsample", new Downsample(inCh, out, stride, rng))
      : null;
  }

  /** Block output. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = relu(this.bn1.forward(this.conv1.forward(x)));
      h = relu(this.bn2.forward(this.conv2.forward(h)));
      h = this.bn3.forward(this.conv3.forward(h));
      const idn = this.downsample ? this.downsample.forward(x) : x;
      return relu(add(h, idn));
    });
  }
}

/** A stage (`layerK`, an `nn.Sequential` of blocks named `0`, `1`, ...). */
export class ResLayer extends Module {
  /** The blocks in order. */
  readonly blocks: ResidualBlock[];

  constructor(blocks: ResidualBlock[]) {
    super();
    this.blocks = blocks.map((b, i) => this.child(String(i), b));
  }

  /** Runs the blocks in order. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const b of this.blocks) {
      const next = b.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}

/** Every output of a full forward pass. */
export interface ResNetOutput {
  /** Last feature map (layer4, before pooling) `[B, C, H', W']`. */
  layer4: Tensor;
  /** Global average of layer4 `[B, C]`. */
  pooled: Tensor;
  /** `fc(pooled)` `[B, numClasses]`, or null without `fc`. */
  logits: Tensor | null;
}

/** torchvision `ResNet` with PyTorch `state_dict` names (`conv1`, `bn1`, `layer1..4`, `fc`). */
export class ResNet extends Module {
  /** Architecture. */
  readonly config: Readonly<Required<ResNetConfig>>;
  /** Stem convolution (7x7/2, or 3x3/1 with the CIFAR stem). */
  readonly conv1: Conv2d;
  /** Stem BatchNorm. */
  readonly bn1: BatchNorm;
  /** The four stages. */
  readonly layers: ResLayer[];
  /** Classifier, or null for a backbone. */
  readonly fc: Linear | null;
  /** Channels of layer4's output. */
  readonly featureDim: number;

  constructor(config: ResNetConfig) {
    super();
    const c: Required<ResNetConfig> = {
      block: config.block,
      layers: [...config.layers],
      numClasses: config.numClasses ?? 0,
      inChannels: config.inChannels ?? 3,
      cifarStem: config.cifarStem ?? false,
      width: config.width ?? 64,
      seed: config.seed ?? 0,
    };
    validateConfig(c);
    this.config = c;
    const rng = new Rng(c.seed);
    const w = c.width;
    this.conv1 = this.child(
      "conv1",
      c.cifarStem ? conv(c.inChannels, w, 3, 1, 1, rng) : conv(c.inChannels, w, 7, 2, 3, rng),
    );
    this.bn1 = this.child("bn1", new BatchNorm(w));
    const expansion = c.block === "basic" ? BasicBlock.expansion : Bottleneck.expansion;
    const make = (inCh: number, planes: number, stride: number): ResidualBlock =>
      c.block === "basic"
        ? new BasicBlock(inCh, planes, stride, rng)
        : new Bottleneck(inCh, planes, stride, rng);
    let inCh = w;
    this.layers = c.layers.map((n, stage) => {
      const planes = w * 2 ** stage;
      const blocks: ResidualBlock[] = [];
      for (let i = 0; i < n; i++) {
        blocks.push(make(inCh, planes, i === 0 && stage > 0 ? 2 : 1));
        inCh = planes * expansion;
      }
      return this.child(`layer${stage + 1}`, new ResLayer(blocks));
    });
    this.featureDim = inCh;
    this.fc = c.numClasses > 0 ? this.child("fc", new Linear(inCh, c.numClasses, { rng })) : null;
  }

  /**
   * Throws (before any GPU work) unless `shape` is `[B, inChannels, H, W]` (any H, W >= 1) and,
   * in training, layer4 has more than one value per channel for BatchNorm. `what` names the
   * model in the message.
   */
  checkInput(shape: readonly number[], what = "ResNet"): void {
    const cin = this.config.inChannels;
    if (shape.length !== 4 || shape[1] !== cin) {
      throw new Error(`${what}: expected input [B, ${cin}, H, W], got ${fmtShape(shape)}`);
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${what}: input ${fmtShape(shape)} has an empty or invalid dimension`);
    }
    const [oh, ow] = this.featureSize(shape[2], shape[3]);
    if (this.training && shape[0] * oh * ow < 2) {
      throw new Error(
        `${what}: input ${fmtShape(shape)} gives a ${oh}x${ow} layer4 map; BatchNorm in training ` +
          `needs more than one value per channel (use a larger batch or image)`,
      );
    }
  }

  /** Spatial size `[H', W']` of the layer4 map for an `h x w` input. */
  featureSize(h: number, w: number): [number, number] {
    const down = (n: number, k: number, s: number, p: number) =>
      Math.floor((n + 2 * p - k) / s) + 1;
    return [h, w].map((n) => {
      let s = this.config.cifarStem ? n : down(down(n, 7, 2, 3), 3, 2, 1);
      for (let i = 1; i < 4; i++) s = down(s, 3, 2, 1);
      return s;
    }) as [number, number];
  }

  /** The layer4 feature map `[B, C, H/32, W/32]` (H, W with the CIFAR stem: /8). */
  forwardFeatures(x: Tensor): Tensor {
    this.checkInput(x.shape);
    return tidy(() => {
      let h = relu(this.bn1.forward(this.conv1.forward(x)));
      if (!this.config.cifarStem) h = maxPool2d(h, 3, 2, 1);
      for (const l of this.layers) h = l.forward(h);
      return h;
    });
  }

  /** layer4, its global average and the logits (torchvision `forward` = `logits`). */
  forwardAll(x: Tensor): ResNetOutput {
    return tidy(() => {
      const layer4 = this.forwardFeatures(x);
      const pooled = mean(layer4, [2, 3]);
      const logits = this.fc ? this.fc.forward(pooled) : null;
      return { layer4, pooled, logits };
    });
  }

  /** torchvision `forward`: logits with `fc`, else the pooled features `[B, C]`. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const { pooled, logits } = this.forwardAll(x);
      return logits ?? pooled;
    });
  }
}

function validateConfig(c: Required<ResNetConfig>): void {
  if (c.block !== "basic" && c.block !== "bottleneck") {
    throw new Error(
      `ResNet: block must be 'basic' or 'bottleneck', got ${JSON.stringify(c.block)}`,
    );
  }
  const posInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 1;
  if (!Array.isArray(c.layers) || c.layers.length !== 4 || !c.layers.every(posInt)) {
    throw new Error(
      `ResNet: blocks must be 4 positive integers [n1, n2, n3, n4], got ${
        JSON.stringify(c.layers)
      }`,
    );
  }
  for (const k of ["inChannels", "width"] as const) {
    if (!posInt(c[k])) throw new Error(`ResNet: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) {
    throw new Error(`ResNet: numClasses must be an integer >= 0, got ${c.numClasses}`);
  }
  if (typeof c.cifarStem !== "boolean") {
    throw new Error(`ResNet: cifarStem must be true or false, got ${JSON.stringify(c.cifarStem)}`);
  }
}

/** {@link ModelWrapper} for CNN modules that expose `forwardFeatures(x) -> [B, C, H', W']`. */
export class ConvNetWrapper implements ModelWrapper {
  /** Registry name. */
  readonly name: string;
  /** Channels of the features. */
  readonly featureDim: number;
  /** Input channels. */
  readonly inChannels: number;
  /** Convolutional, BatchNorm. */
  readonly architectureInfo: ArchitectureInfo = { kind: "convolutional", norm: "batchnorm" };
  readonly #model: Module & { forwardFeatures(x: Tensor): Tensor };
  readonly #check: (shape: readonly number[]) => void;

  constructor(
    name: string,
    model: Module & { forwardFeatures(x: Tensor): Tensor },
    info: { featureDim: number; inChannels: number; checkInput(shape: readonly number[]): void },
  ) {
    this.name = name;
    this.#model = model;
    this.featureDim = info.featureDim;
    this.inChannels = info.inChannels;
    this.#check = info.checkInput;
  }

  /** The last feature map; masks are not supported by convolutional models. */
  forwardFeatures(x: Tensor, opts: ForwardOptions = {}): FeatureOutput {
    if (opts.masks) throw new Error(`${this.name}: patch masks are not supported by a CNN`);
    this.#check(x.shape);
    return { features: this.#model.forwardFeatures(x) };
  }

  /** Global average pooling `[B, C, 1, 1]`. */
  forwardPool(f: FeatureOutput): Tensor {
    return globalAvgPool(f.features);
  }

  /** The module whose weights are exported. */
  getModel(): Module {
    return this.#model;
  }
}

/** Wraps a {@link ResNet} as a {@link ModelWrapper}. */
export function resnetWrapper(name: string, model: ResNet): ModelWrapper {
  return new ConvNetWrapper(name, model, {
    featureDim: model.featureDim,
    inChannels: model.config.inChannels,
    checkInput: (s) => model.checkInput(s, name),
  });
}

/**
 * Throws on an option key not in `known`, naming the nearest known key (strict configs).
 */
export function checkOptionKeys(model: string, opts: ModelOptions, known: readonly string[]): void {
  for (const k of Object.keys(opts)) {
    if (opts[k] === undefined || known.includes(k)) continue;
    const near = [...known].sort((a, b) => editDistance(k, a) - editDistance(k, b))[0];
    throw new Error(
      `${model}: unknown option '${k}' (did you mean '${near}'?); options: ${known.join(", ")}`,
    );
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + cost);
      prev = t;
    }
  }
  return d[b.length];
}

const RESNET_OPTIONS = ["cifarStem", "blocks", "inChannels", "numClasses", "seed", "width"];

function registerResNet(name: string, block: ResNetBlockType, layers: number[], desc: string) {
  const full = `torchvision/${name}`;
  registerModel({
    name: full,
    description: desc,
    create(opts: ModelOptions): ModelWrapper {
      checkOptionKeys(full, opts, RESNET_OPTIONS);
      const model = new ResNet({
        block,
        layers: (opts.blocks as number[] | undefined) ?? layers,
        numClasses: opts.numClasses as number | undefined,
        inChannels: opts.inChannels,
        cifarStem: opts.cifarStem as boolean | undefined,
        width: opts.width as number | undefined,
        seed: opts.seed,
      });
      return resnetWrapper(full, model);
    },
  });
}

registerResNet(
  "resnet18",
  "basic",
  [2, 2, 2, 2],
  "torchvision ResNet-18 (BasicBlock [2,2,2,2]), 512-d",
);
registerResNet(
  "resnet34",
  "basic",
  [3, 4, 6, 3],
  "torchvision ResNet-34 (BasicBlock [3,4,6,3]), 512-d",
);
registerResNet(
  "resnet50",
  "bottleneck",
  [3, 4, 6, 3],
  "torchvision ResNet-50 (Bottleneck [3,4,6,3], v1.5), 2048-d",
);
