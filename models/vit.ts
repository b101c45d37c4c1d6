/**
 * timm `VisionTransformer` (class token, learned `pos_embed` including the cls row, pre-norm
 * blocks, final `norm`, LayerNorm eps 1e-6, GELU erf, `global_pool='token'`, no head) with
 * timm's `state_dict` names, plus the pieces the DINOv2 ViT shares with it: `PatchEmbed`,
 * `VitBlock` (optionally with LayerScale `ls1` / `ls2`), input checks and token helpers.
 *
 * Registered names: `timm/vit_{tiny,small,base}_patch{P}_{S}` for
 * `(P, S)` in `(16, 224)`, `(14, 224)`, `(8, 224)`, `(8, 64)`, `(4, 32)`
 * (tiny 192 dim / 3 heads, small 384 / 6, base 768 / 12; depth 12 unless `depth` is given).
 * An input whose size differs from `imgSize` gets its position table resampled as timm's
 * `resample_abs_pos_embed` does (bicubic, antialiased; the `aa` mode of `pos_embed.ts`).
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { fmtShape, type Tensor, tensor, tidy } from "../core/tensor.ts";
import { add, concat, permute, reshapeOp, slice, zeros } from "../kernels/mod.ts";
import { Module } from "./module.ts";
import {
  Attention,
  constInit,
  Conv2d,
  DropPath,
  type LayerInit,
  LayerNorm,
  LayerScale,
  Mlp,
  normalInit,
} from "./layers.ts";
import {
  type ArchitectureInfo,
  type FeatureOutput,
  type ForwardOptions,
  type ModelOptions,
  type ModelWrapper,
  registerModel,
} from "./wrapper.ts";
import { PosEmbedMatrices, splitPosEmbed } from "./pos_embed.ts";

/** LayerNorm epsilon of timm and DINOv2 ViTs. */
export const VIT_LN_EPS = 1e-6;

/**
 * Throws (before any GPU work) unless `shape` is `[B, inCh, H, W]` with H and W positive
 * multiples of `patch`; the message names the model, what it expects and what it got.
 */
export function checkVitInput(
  model: string,
  shape: readonly number[],
  inCh: number,
  patch: number,
): void {
  const expect = `[B, ${inCh}, H, W] with H and W multiples of the patch size ${patch}`;
  if (shape.length !== 4 || shape[1] !== inCh) {
    throw new Error(`${model}: expected input ${expect}, got ${fmtShape(shape)}`);
  }
  const [b, , h, w] = shape;
  if (!(b >= 1) || !(h >= patch) || !(w >= patch) || h % patch !== 0 || w % patch !== 0) {
    throw new Error(`${model}: expected input ${expect}, got ${fmtShape(shape)}`);
  }
}

/** `t [1, k, C]` repeated over a batch of `b` (`t` itself when b = 1), with autograd. */
export function expandBatch(t: Tensor, b: number): Tensor {
  if (b === 1) return t;
  return tidy(() => add(zeros([b, ...t.shape.slice(1)]), t));
}

/** Patch tokens `[B, N, C]` (row-major grid) as a feature map `[B, C, gh, gw]`, with autograd. */
export function tokensToGrid(tokens: Tensor, gh: number, gw: number): Tensor {
  const [b, n, c] = tokens.shape;
  if (n !== gh * gw) {
    throw new Error(`tokensToGrid: ${fmtShape(tokens.shape)} is not a ${gh}x${gw} grid`);
  }
  return tidy(() => reshapeOp(permute(tokens, [0, 2, 1]), [b, c, gh, gw]));
}

/** timm / DINOv2 `PatchEmbed`: `proj` = Conv2d(inCh, dim, p, stride p), flattened row-major. */
export class PatchEmbed extends Module {
  /** The patch projection. */
  readonly proj: Conv2d;
  /** Patch size. */
  readonly patchSize: number;

  constructor(inCh: number, dim: number, patch: number, rng: Rng) {
    super();
    this.patchSize = patch;
    this.proj = this.child("proj", new Conv2d(inCh, dim, patch, { stride: patch, rng }));
  }

  /** `x [B, Cin, H, W]` -> tokens `[B, (H/p)*(W/p), C]` (patch index = row*(W/p) + col). */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.proj.forward(x);
      const [b, c, gh, gw] = y.shape;
      return permute(reshapeOp(y, [b, c, gh * gw]), [0, 2, 1]);
    });
  }
}

/** Options of {@link VitBlock}. */
export interface VitBlockOptions {
  /** MLP hidden size / dim (default 4). */
  mlpRatio?: number;
  /** Bias of the qkv projection (default true). */
  qkvBias?: boolean;
  /** LayerScale initial value; null/undefined: no LayerScale (timm default). */
  initValues?: number | null;
  /** Stochastic-depth rate of this block (default 0). */
  dropPath?: number;
  /** Generator of the initial weights. */
  rng: Rng;
  /** Generator of the drop-path masks. */
  dropRng?: Rng;
}

/** Linear init of timm / DINOv2 ViTs: trunc_normal(std 0.02), bias 0. */
function vitLinearInit(rng: Rng): LayerInit {
  return { rng, weightInit: normalInit(0.02, true), biasInit: constInit(0) };
}

/**
 * Pre-norm transformer block (timm `Block`, DINOv2 `NestedTensorBlock`):
 * `x += ls1(attn(norm1(x)))`, `x += ls2(mlp(norm2(x)))`; names `norm1`, `attn.qkv`,
 * `attn.proj`, `ls1.gamma`, `norm2`, `mlp.fc1`, `mlp.fc2`, `ls2.gamma`.
 */
export class VitBlock extends Module {
  /** Pre-attention norm. */
  readonly norm1: LayerNorm;
  /** Self-attention. */
  readonly attn: Attention;
  /** LayerScale after attention, or null. */
  readonly ls1: LayerScale | null;
  /** Stochastic depth of the attention branch. */
  readonly dropPath1: DropPath;
  /** Pre-MLP norm. */
  readonly norm2: LayerNorm;
  /** MLP. */
  readonly mlp: Mlp;
  /** LayerScale after the MLP, or null. */
  readonly ls2: LayerScale | null;
  /** Stochastic depth of the MLP branch. */
  readonly dropPath2: DropPath;

  constructor(dim: number, numHeads: number, opts: VitBlockOptions) {
    super();
    const init = vitLinearInit(opts.rng);
    const ls = opts.initValues ?? null;
    const dropRng = opts.dropRng ?? new Rng(1);
    this.norm1 = this.child("norm1", new LayerNorm(dim, VIT_LN_EPS));
    this.attn = this.child(
      "attn",
      new Attention(dim, numHeads, { ...init, qkvBias: opts.qkvBias ?? true }),
    );
    this.ls1 = ls === null ? null : this.child("ls1", new LayerScale(dim, ls));
    this.dropPath1 = this.child("drop_path1", new DropPath(opts.dropPath ?? 0, dropRng));
    this.norm2 = this.child("norm2", new LayerNorm(dim, VIT_LN_EPS));
    const hidden = Math.round(dim * (opts.mlpRatio ?? 4));
    this.mlp = this.child("mlp", new Mlp(dim, hidden, init));
    this.ls2 = ls === null ? null : this.child("ls2", new LayerScale(dim, ls));
    this.dropPath2 = this.child("drop_path2", new DropPath(opts.dropPath ?? 0, dropRng));
  }

  /** One block on tokens `[B, T, C]`. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = this.attn.forward(this.norm1.forward(x));
      if (this.ls1) h = this.ls1.forward(h);
      const x1 = add(x, this.dropPath1.forward(h));
      let m = this.mlp.forward(this.norm2.forward(x1));
      if (this.ls2) m = this.ls2.forward(m);
      return add(x1, this.dropPath2.forward(m));
    });
  }
}

/** `blocks.{i}` container. */
export class BlockList extends Module {
  /** The blocks in order. */
  readonly items: VitBlock[];

  constructor(blocks: VitBlock[]) {
    super();
    this.items = blocks.map((b, i) => this.child(String(i), b));
  }
}

/** Builds `depth` blocks with drop-path rates `linspace(0, dropPathRate, depth)`. */
export function makeBlocks(
  depth: number,
  dim: number,
  numHeads: number,
  opts: Omit<VitBlockOptions, "dropPath" | "dropRng"> & { dropPathRate?: number; seed?: number },
): BlockList {
  const rate = opts.dropPathRate ?? 0;
  const blocks: VitBlock[] = [];
  for (let i = 0; i < depth; i++) {
    const dp = depth > 1 ? (rate * i) / (depth - 1) : 0;
    blocks.push(
      new VitBlock(dim, numHeads, {
        ...opts,
        dropPath: dp,
        dropRng: new Rng(((opts.seed ?? 0) * 7919 + 1000 + i) >>> 0),
      }),
    );
  }
  return new BlockList(blocks);
}

/** Architecture of a timm {@link VisionTransformer}. */
export interface VitConfig {
  /** Image size the position table is built for (square). */
  imgSize: number;
  /** Patch size. */
  patchSize: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Embedding dim. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads. */
  numHeads: number;
  /** MLP ratio (default 4). */
  mlpRatio?: number;
  /** qkv bias (default true). */
  qkvBias?: boolean;
  /** LayerScale init (timm `init_values`); default none. */
  initValues?: number | null;
  /** Stochastic depth (default 0). */
  dropPathRate?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** Output of {@link VisionTransformer.forwardFeatures}. */
export interface VitFeatures {
  /** Normed class token `[B, C]`. */
  clsToken: Tensor;
  /** Normed patch tokens `[B, N, C]`, row-major over the patch grid. */
  patchTokens: Tensor;
  /** Patch grid rows. */
  gh: number;
  /** Patch grid columns. */
  gw: number;
  /** Normed register tokens `[B, R, C]` (DINOv2 with registers), else null/absent. */
  regTokens?: Tensor | null;
}

/** `defaults` overridden by the fields of `cfg` that are not undefined. */
export function withDefaults<T extends object>(defaults: T, cfg: Partial<T>): T {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(cfg)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Checks a positive integer option. */
export function posInt(model: string, key: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error(`${model}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** timm `VisionTransformer` backbone (`num_classes=0`, `global_pool='token'`). */
export class VisionTransformer extends Module {
  /** `[1, 1, C]`. */
  readonly clsToken: Tensor;
  /** `[1, 1 + (imgSize/p)², C]`. */
  readonly posEmbed: Tensor;
  /** Patch projection. */
  readonly patchEmbed: PatchEmbed;
  /** Transformer blocks. */
  readonly blocks: BlockList;
  /** Final norm. */
  readonly norm: LayerNorm;
  /** Resolved architecture. */
  readonly config: Required<VitConfig>;
  /** Name for errors. */
  label: string = "VisionTransformer";
  #mats: PosEmbedMatrices | null = null;

  constructor(cfg: VitConfig) {
    super();
    const c = withDefaults<Required<VitConfig>>({
      imgSize: 0,
      patchSize: 0,
      inChannels: 3,
      embedDim: 0,
      depth: 0,
      numHeads: 0,
      mlpRatio: 4,
      qkvBias: true,
      initValues: null,
      dropPathRate: 0,
      seed: 0,
    }, cfg);
    for (const k of ["imgSize", "patchSize", "inChannels", "embedDim", "depth", "numHeads"]) {
      posInt("VisionTransformer", k, c[k as keyof VitConfig]);
    }
    if (!(c.mlpRatio > 0)) {
      throw new Error(`VisionTransformer: mlpRatio must be > 0, got ${c.mlpRatio}`);
    }
    if (c.embedDim % c.numHeads !== 0) {
      throw new Error(
        `VisionTransformer: embedDim ${c.embedDim} is not divisible by ${c.numHeads} heads`,
      );
    }
    if (c.imgSize % c.patchSize !== 0) {
      throw new Error(
        `VisionTransformer: imgSize ${c.imgSize} is not a multiple of patchSize ${c.patchSize}`,
      );
    }
    this.config = c;
    const rng = new Rng(c.seed);
    const g = c.imgSize / c.patchSize;
    const d = c.embedDim;
    this.clsToken = this.param("cls_token", tensor(normalInit(1e-6)([1, 1, d], rng), [1, 1, d]));
    this.posEmbed = this.param(
      "pos_embed",
      tensor(normalInit(0.02, true)([1, 1 + g * g, d], rng), [1, 1 + g * g, d]),
    );
    this.patchEmbed = this.child("patch_embed", new PatchEmbed(c.inChannels, d, c.patchSize, rng));
    this.blocks = this.child(
      "blocks",
      makeBlocks(c.depth, d, c.numHeads, {
        mlpRatio: c.mlpRatio,
        qkvBias: c.qkvBias,
        initValues: c.initValues,
        dropPathRate: c.dropPathRate,
        seed: c.seed,
        rng,
      }),
    );
    this.norm = this.child("norm", new LayerNorm(d, VIT_LN_EPS));
  }

  /** Throws unless `shape` is a valid input. */
  checkInput(shape: readonly number[]): void {
    checkVitInput(this.label, shape, this.config.inChannels, this.config.patchSize);
  }

  /** Normed tokens `[B, 1 + N, C]` and the patch grid. */
  forwardTokens(x: Tensor): { tokens: Tensor; gh: number; gw: number } {
    this.checkInput(x.shape);
    const p = this.config.patchSize;
    const gh = x.shape[2] / p, gw = x.shape[3] / p;
    const b = x.shape[0];
    const tokens = tidy(() => {
      const t = this.patchEmbed.forward(x);
      const pos = splitPosEmbed(this.posEmbed, gh, gw, "aa", this.#matrices());
      let h = concat([expandBatch(add(this.clsToken, pos.cls), b), add(t, pos.patches)], 1);
      for (const blk of this.blocks.items) h = blk.forward(h);
      return this.norm.forward(h);
    });
    return { tokens, gh, gw };
  }

  /** Normed class token and patch tokens (timm `forward_features` split as `global_pool='token'`). */
  forwardFeatures(x: Tensor): VitFeatures {
    const { tokens, gh, gw } = this.forwardTokens(x);
    const [b, n, c] = tokens.shape;
    const out = tidy(() => ({
      clsToken: reshapeOp(slice(tokens, 1, 0, 1), [b, c]),
      patchTokens: slice(tokens, 1, 1, n),
    }));
    tokens.dispose();
    return { ...out, gh, gw };
  }

  #matrices(): PosEmbedMatrices {
    if (!this.#mats) this.#mats = new PosEmbedMatrices();
    return this.#mats;
  }

  /** Frees the weights and the cached interpolation matrices. */
  override dispose(): void {
    this.#mats?.dispose();
    this.#mats = null;
    super.dispose();
  }
}

/** What a transformer backbone gives {@link TransformerWrapper}. */
export interface TokenBackbone extends Module {
  /** Throws unless `shape` is a valid input. */
  checkInput(shape: readonly number[]): void;
  /** Normed class and patch tokens; `masks [B, N]` (f32 0/1) where a mask token exists. */
  forwardFeatures(x: Tensor, masks?: Tensor): VitFeatures;
}

/**
 * {@link ModelWrapper} of a ViT: `features` = normed patch tokens as `[B, C, H/p, W/p]`,
 * `clsToken` = normed class token `[B, C]`, `forwardPool` = the class token as `[B, C, 1, 1]`.
 */
export class TransformerWrapper implements ModelWrapper {
  /** Registry name. */
  readonly name: string;
  /** Embedding dim. */
  readonly featureDim: number;
  /** Input channels. */
  readonly inChannels: number;
  /** Transformer with LayerNorm. */
  readonly architectureInfo: ArchitectureInfo = { kind: "transformer", norm: "layernorm" };
  /** Whether the backbone has a mask token. */
  readonly supportsMasks: boolean;
  readonly #model: TokenBackbone;

  constructor(
    name: string,
    model: TokenBackbone,
    featureDim: number,
    inChannels: number,
    supportsMasks: boolean,
  ) {
    this.name = name;
    this.#model = model;
    this.featureDim = featureDim;
    this.inChannels = inChannels;
    this.supportsMasks = supportsMasks;
  }

  /** Patch-token grid and class token. Throws before GPU work on a bad input. */
  forwardFeatures(x: Tensor, opts: ForwardOptions = {}): FeatureOutput {
    if (opts.masks && !this.supportsMasks) {
      throw new Error(`${this.name}: patch masks need a mask token, which this ViT lacks`);
    }
    this.#model.checkInput(x.shape);
    const f = this.#model.forwardFeatures(x, opts.masks);
    const features = tokensToGrid(f.patchTokens, f.gh, f.gw);
    f.patchTokens.dispose();
    f.regTokens?.dispose();
    return { features, clsToken: f.clsToken };
  }

  /** The class token as `[B, C, 1, 1]`. */
  forwardPool(f: FeatureOutput): Tensor {
    if (!f.clsToken) throw new Error(`${this.name}: forwardPool needs the class token`);
    const [b, c] = f.clsToken.shape;
    return reshapeOp(f.clsToken, [b, c, 1, 1]);
  }

  /** The backbone module (timm / DINOv2 names). */
  getModel(): Module {
    return this.#model;
  }
}

/** Reads an optional positive-integer model option. */
export function intOption(model: string, opts: ModelOptions, key: string, dflt: number): number {
  const v = opts[key];
  return v === undefined ? dflt : posInt(model, key, v);
}

/** Reads an optional non-negative number option. */
export function numOption(model: string, opts: ModelOptions, key: string, dflt: number): number {
  const v = opts[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new Error(`${model}: ${key} must be a number >= 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Widths of the registered timm sizes. */
export const VIT_SIZES: Record<string, { dim: number; heads: number }> = {
  tiny: { dim: 192, heads: 3 },
  small: { dim: 384, heads: 6 },
  base: { dim: 768, heads: 12 },
};

/** `(patch, imgSize)` pairs of the registered timm names. */
export const VIT_VARIANTS: readonly [number, number][] = [
  [16, 224],
  [14, 224],
  [8, 224],
  [8, 64],
  [4, 32],
];

const KNOWN_VIT_OPTIONS = ["inChannels", "seed", "imgSize", "depth", "dropPathRate", "initValues"];

/** Builds a registered timm ViT from its size, patch, default image size and options. */
export function createVit(
  name: string,
  size: { dim: number; heads: number },
  patch: number,
  img: number,
  opts: ModelOptions,
): TransformerWrapper {
  for (const k of Object.keys(opts)) {
    if (!KNOWN_VIT_OPTIONS.includes(k)) {
      throw new Error(`${name}: unknown option '${k}' (known: ${KNOWN_VIT_OPTIONS.join(", ")})`);
    }
  }
  const inChannels = intOption(name, opts, "inChannels", 3);
  const iv = opts.initValues;
  const model = new VisionTransformer({
    imgSize: intOption(name, opts, "imgSize", img),
    patchSize: patch,
    inChannels,
    embedDim: size.dim,
    depth: intOption(name, opts, "depth", 12),
    numHeads: size.heads,
    dropPathRate: numOption(name, opts, "dropPathRate", 0),
    initValues: iv === undefined || iv === null ? null : numOption(name, opts, "initValues", 0),
    seed: intOptionOrZero(name, opts, "seed"),
  });
  model.label = name;
  return new TransformerWrapper(name, model, size.dim, inChannels, false);
}

/** Reads an optional integer >= 0 option (default 0). */
export function intOptionOrZero(model: string, opts: ModelOptions, key: string): number {
  const v = opts[key];
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new Error(`${model}: ${key} must be an integer >= 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

for (const [sizeName, size] of Object.entries(VIT_SIZES)) {
  for (const [p, img] of VIT_VARIANTS) {
    const name = `timm/vit_${sizeName}_patch${p}_${img}`;
    registerModel({
      name,
      description: `timm ViT-${sizeName[0].toUpperCase()}/${p} (${size.dim} dim, ${size.heads} ` +
        `heads, depth 12), pos_embed for ${img}x${img}, class token`,
      create: (opts) => createVit(name, size, p, img, opts),
    });
  }
}
