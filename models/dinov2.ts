/**
 * DINOv2 `DinoVisionTransformer` (facebookresearch/dinov2, `block_chunks=0` names): class
 * token, optional register tokens, mask token, learned `pos_embed` for a 37x37 grid (518 / 14)
 * resampled to the input's grid exactly as DINOv2 does (`aa` or `offset`, see `pos_embed.ts`),
 * blocks with LayerScale, final `norm`; `forward_features` and `get_intermediate_layers`.
 *
 * Token order: `[cls, reg0..reg{R-1}, patch0..]`; registers get no position embedding; masked
 * patch embeddings are replaced by `mask_token` before the position embedding is added.
 *
 * Registered: `dinov2/vits14`, `dinov2/vitb14`, `dinov2/vitl14` (4 registers, `aa`, as
 * lightly-train's defaults, e.g. `dinov2/vits14` = vits14_reg4) and `dinov2/vits14-noreg`,
 * `dinov2/vitb14-noreg`, `dinov2/vitl14-noreg` (no registers, `offset`).
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { fmtShape, type Tensor, tensor, tidy } from "../core/tensor.ts";
import { add, affine, concat, mul, reshapeOp, slice } from "../kernels/mod.ts";
import { Module } from "./module.ts";
import { constInit, LayerNorm, normalInit } from "./layers.ts";
import { type ModelOptions, registerModel } from "./wrapper.ts";
import { PosEmbedMatrices, type PosEmbedMode, splitPosEmbed } from "./pos_embed.ts";
import {
  type BlockList,
  checkVitInput,
  expandBatch,
  intOption,
  intOptionOrZero,
  makeBlocks,
  numOption,
  PatchEmbed,
  posInt,
  tokensToGrid,
  TransformerWrapper,
  VIT_LN_EPS,
  type VitFeatures,
  withDefaults,
} from "./vit.ts";

/** Architecture of a {@link DinoVisionTransformer}. */
export interface Dinov2Config {
  /** Image size of the position table (default 518: a 37x37 grid). */
  imgSize?: number;
  /** Patch size (default 14). */
  patchSize?: number;
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
  /** Register tokens (default 0). */
  numRegisterTokens?: number;
  /** Position-table resampling (default `offset`, the DinoVisionTransformer defaults). */
  interpolation?: PosEmbedMode;
  /** LayerScale init (default 1e-5). */
  initValues?: number;
  /** Stochastic depth (default 0). */
  dropPathRate?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** DINOv2 `forward_features` output. */
export interface Dinov2Features extends VitFeatures {
  /** Normed register tokens `[B, R, C]`, or null without registers. */
  regTokens: Tensor | null;
}

/** Options of {@link DinoVisionTransformer.getIntermediateLayers}. */
export interface IntermediateOptions {
  /** Patch tokens as `[B, C, H/p, W/p]` instead of `[B, N, C]` (default false). */
  reshape?: boolean;
  /** Apply the final norm (default true). */
  norm?: boolean;
  /** Also return the class tokens (default false). */
  returnClassToken?: boolean;
}

/** One entry of {@link DinoVisionTransformer.getIntermediateLayers}. */
export interface IntermediateLayer {
  /** Patch tokens of the block (normed unless `norm: false`). */
  patches: Tensor;
  /** Class token `[B, C]` when `returnClassToken`. */
  clsToken?: Tensor;
}

/** facebookresearch/dinov2 `DinoVisionTransformer` (eval/train forward, no head). */
export class DinoVisionTransformer extends Module {
  /** `[1, 1, C]`. */
  readonly clsToken: Tensor;
  /** `[1, 1 + M², C]` with M = imgSize / patch. */
  readonly posEmbed: Tensor;
  /** `[1, R, C]`, or null without registers. */
  readonly registerTokens: Tensor | null;
  /** `[1, C]`. */
  readonly maskToken: Tensor;
  /** Patch projection. */
  readonly patchEmbed: PatchEmbed;
  /** Blocks with LayerScale. */
  readonly blocks: BlockList;
  /** Final norm. */
  readonly norm: LayerNorm;
  /** Resolved architecture. */
  readonly config: Required<Dinov2Config>;
  /** Name for errors. */
  label: string = "DinoVisionTransformer";
  readonly #mats = new PosEmbedMatrices();

  constructor(cfg: Dinov2Config) {
    super();
    const c = withDefaults<Required<Dinov2Config>>({
      embedDim: 0,
      depth: 0,
      numHeads: 0,
      imgSize: 518,
      patchSize: 14,
      inChannels: 3,
      mlpRatio: 4,
      numRegisterTokens: 0,
      interpolation: "offset",
      initValues: 1e-5,
      dropPathRate: 0,
      seed: 0,
    }, cfg);
    const m = "DinoVisionTransformer";
    for (const k of ["imgSize", "patchSize", "inChannels", "embedDim", "depth", "numHeads"]) {
      posInt(m, k, c[k as keyof Dinov2Config]);
    }
    if (!Number.isInteger(c.numRegisterTokens) || c.numRegisterTokens < 0) {
      throw new Error(
        `${m}: numRegisterTokens must be an integer >= 0, got ${c.numRegisterTokens}`,
      );
    }
    if (c.interpolation !== "aa" && c.interpolation !== "offset") {
      throw new Error(`${m}: interpolation must be 'aa' or 'offset', got '${c.interpolation}'`);
    }
    if (!(c.mlpRatio > 0)) throw new Error(`${m}: mlpRatio must be > 0, got ${c.mlpRatio}`);
    if (c.embedDim % c.numHeads !== 0) {
      throw new Error(`${m}: embedDim ${c.embedDim} is not divisible by ${c.numHeads} heads`);
    }
    if (c.imgSize % c.patchSize !== 0) {
      throw new Error(`${m}: imgSize ${c.imgSize} is not a multiple of patchSize ${c.patchSize}`);
    }
    this.config = c;
    const rng = new Rng(c.seed);
    const d = c.embedDim, g = c.imgSize / c.patchSize, r = c.numRegisterTokens;
    const make = (shape: number[], init: (s: number[], rng: Rng) => Float32Array) =>
      tensor(init(shape, rng), shape);
    this.clsToken = this.param("cls_token", make([1, 1, d], normalInit(1e-6)));
    this.posEmbed = this.param("pos_embed", make([1, 1 + g * g, d], normalInit(0.02, true)));
    this.registerTokens = r > 0
      ? this.param("register_tokens", make([1, r, d], normalInit(1e-6)))
      : null;
    this.maskToken = this.param("mask_token", make([1, d], constInit(0)));
    this.patchEmbed = this.child("patch_embed", new PatchEmbed(c.inChannels, d, c.patchSize, rng));
    this.blocks = this.child(
      "blocks",
      makeBlocks(c.depth, d, c.numHeads, {
        mlpRatio: c.mlpRatio,
        qkvBias: true,
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

  #checkMasks(masks: Tensor, b: number, n: number): void {
    const ok = masks.dtype === "f32" &&
      ((masks.shape.length === 2 && masks.shape[0] === b && masks.shape[1] === n) ||
        (masks.shape.length === 3 && masks.shape[0] === b && masks.shape[1] === n &&
          masks.shape[2] === 1));
    if (!ok) {
      throw new Error(
        `${this.label}: masks must be f32 0/1 of shape [${b}, ${n}] (one per patch), got ${masks.dtype} ${
          fmtShape(masks.shape)
        }`,
      );
    }
  }

  /**
   * DINOv2 `prepare_tokens_with_masks`: `[B, 1 + R + N, C]` = `[cls + pos0, registers,
   * where(mask, mask_token, patches) + pos]`, and the patch grid.
   */
  prepareTokens(x: Tensor, masks?: Tensor): { tokens: Tensor; gh: number; gw: number } {
    this.checkInput(x.shape);
    const p = this.config.patchSize;
    const b = x.shape[0], gh = x.shape[2] / p, gw = x.shape[3] / p;
    if (masks) this.#checkMasks(masks, b, gh * gw);
    const tokens = tidy(() => {
      let t = this.patchEmbed.forward(x);
      if (masks) {
        // where(m, mask_token, t) = t * (1 - m) + m * mask_token (exact for m in {0, 1}).
        const m = reshapeOp(masks, [b, gh * gw, 1]);
        t = add(mul(t, affine(m, -1, 1)), mul(m, this.maskToken));
      }
      const pos = splitPosEmbed(this.posEmbed, gh, gw, this.config.interpolation, this.#mats);
      const parts = [expandBatch(add(this.clsToken, pos.cls), b)];
      if (this.registerTokens) parts.push(expandBatch(this.registerTokens, b));
      parts.push(add(t, pos.patches));
      return concat(parts, 1);
    });
    return { tokens, gh, gw };
  }

  /**
   * DINOv2 `forward_features`: normed class token (`x_norm_clstoken`), register tokens
   * (`x_norm_regtokens`) and patch tokens (`x_norm_patchtokens`).
   */
  forwardFeatures(x: Tensor, masks?: Tensor): Dinov2Features {
    const { tokens, gh, gw } = this.prepareTokens(x, masks);
    const r = this.config.numRegisterTokens;
    const out = tidy(() => {
      let h = tokens;
      for (const blk of this.blocks.items) h = blk.forward(h);
      const xn = this.norm.forward(h);
      const [b, t, c] = xn.shape;
      return {
        clsToken: reshapeOp(slice(xn, 1, 0, 1), [b, c]),
        regTokens: r > 0 ? slice(xn, 1, 1, 1 + r) : null,
        patchTokens: slice(xn, 1, 1 + r, t),
      };
    });
    tokens.dispose();
    return { ...out, gh, gw };
  }

  /**
   * DINOv2 `get_intermediate_layers(x, n, reshape, return_class_token, norm)`: the outputs of
   * the last `n` blocks (or of the block indices `n`), patch tokens only (registers dropped),
   * normed by the final norm unless `norm: false`, as `[B, N, C]` or (reshape) `[B, C, gh, gw]`.
   */
  getIntermediateLayers(
    x: Tensor,
    n: number | readonly number[] = 1,
    opts: IntermediateOptions = {},
  ): IntermediateLayer[] {
    const depth = this.config.depth;
    const take = typeof n === "number"
      ? Array.from(
        { length: Math.max(0, Math.min(n, depth)) },
        (_, i) => depth - Math.min(n, depth) + i,
      )
      : [...n];
    for (const i of take) {
      if (!Number.isInteger(i) || i < 0 || i >= depth) {
        throw new Error(`${this.label}: block index ${i} out of range for depth ${depth}`);
      }
    }
    const { tokens, gh, gw } = this.prepareTokens(x);
    const r = this.config.numRegisterTokens;
    const last = Math.max(-1, ...take);
    const out = tidy(() => {
      const outs = new Map<number, Tensor>();
      let h = tokens;
      for (let i = 0; i <= last; i++) {
        h = this.blocks.items[i].forward(h);
        if (take.includes(i)) outs.set(i, h);
      }
      return take.map((i): IntermediateLayer => {
        let o = outs.get(i)!;
        if (opts.norm ?? true) o = this.norm.forward(o);
        const [b, t, c] = o.shape;
        let patches = slice(o, 1, 1 + r, t);
        if (opts.reshape) patches = tokensToGrid(patches, gh, gw);
        return opts.returnClassToken
          ? { patches, clsToken: reshapeOp(slice(o, 1, 0, 1), [b, c]) }
          : { patches };
      });
    });
    tokens.dispose();
    return out;
  }

  /** Frees the weights and the cached interpolation matrices. */
  override dispose(): void {
    this.#mats.dispose();
    super.dispose();
  }
}

/** Widths of the registered DINOv2 sizes. */
export const DINOV2_SIZES: Record<string, { dim: number; heads: number; depth: number }> = {
  vits14: { dim: 384, heads: 6, depth: 12 },
  vitb14: { dim: 768, heads: 12, depth: 12 },
  vitl14: { dim: 1024, heads: 16, depth: 24 },
};

const KNOWN_DINOV2_OPTIONS = [
  "inChannels",
  "seed",
  "imgSize",
  "depth",
  "dropPathRate",
  "initValues",
];

/** Builds a registered DINOv2 ViT. */
export function createDinov2(
  name: string,
  size: { dim: number; heads: number; depth: number },
  registers: number,
  interpolation: PosEmbedMode,
  opts: ModelOptions,
): TransformerWrapper {
  for (const k of Object.keys(opts)) {
    if (!KNOWN_DINOV2_OPTIONS.includes(k)) {
      throw new Error(
        `${name}: unknown option '${k}' (known: ${KNOWN_DINOV2_OPTIONS.join(", ")})`,
      );
    }
  }
  const inChannels = intOption(name, opts, "inChannels", 3);
  const model = new DinoVisionTransformer({
    imgSize: intOption(name, opts, "imgSize", 518),
    patchSize: 14,
    inChannels,
    embedDim: size.dim,
    depth: intOption(name, opts, "depth", size.depth),
    numHeads: size.heads,
    numRegisterTokens: registers,
    interpolation,
    initValues: numOption(name, opts, "initValues", 1e-5),
    dropPathRate: numOption(name, opts, "dropPathRate", 0),
    seed: intOptionOrZero(name, opts, "seed"),
  });
  model.label = name;
  return new TransformerWrapper(name, model, size.dim, inChannels, true);
}

for (const [arch, size] of Object.entries(DINOV2_SIZES)) {
  const letter = arch[3].toUpperCase();
  for (const reg of [true, false]) {
    const name = `dinov2/${arch}${reg ? "" : "-noreg"}`;
    registerModel({
      name,
      description:
        `DINOv2 ViT-${letter}/14 (${size.dim} dim, ${size.heads} heads, depth ${size.depth})` +
        (reg ? ", 4 register tokens, antialiased pos_embed resampling" : ", no registers"),
      create: (opts) => createDinov2(name, size, reg ? 4 : 0, reg ? "aa" : "offset", opts),
    });
  }
}
