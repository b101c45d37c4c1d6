/**
 * lightly-train `DINOv2Head`: the DINO head and the iBOT head of DINOv2, each a
 * `DINOv2ProjectionHead` (MLP `in -> hidden -> hidden -> bottleneck` with GELU, L2
 * normalization, weight-normed `Linear(bottleneck, output)` with a trainable gain). With
 * `ibot_separate_head=False` (the default) the iBOT head **is** the DINO head: one set of
 * weights, registered once (`dino_head.*`).
 *
 * @module
 */
import { Module } from "../../models/module.ts";
import { DINOProjectionHead } from "../dino/head.ts";

/** Options of {@link DINOv2Head}. */
export interface Dinov2HeadOptions {
  /** Backbone embedding dim. */
  inputDim: number;
  /** MLP hidden width (2048). */
  hiddenDim: number;
  /** Bottleneck width (`dino_bottleneck_dim`, 256; the iBOT head uses it too, as upstream). */
  bottleneckDim: number;
  /** Prototypes (65536). */
  outputDim: number;
  /** BatchNorm in the MLP (false). */
  batchNorm: boolean;
  /** A separate iBOT head (false: shared with the DINO head). */
  separateIbot: boolean;
  /** Seed of the initial weights. */
  seed: number;
}

/** The DINO and iBOT heads (`dino_head.*`, and `ibot_head.*` when separate). */
export class DINOv2Head extends Module {
  /** Head of the class tokens. */
  readonly dinoHead: DINOProjectionHead;
  /** Head of the masked patch tokens (the DINO head unless separate). */
  readonly ibotHead: DINOProjectionHead;

  constructor(o: Dinov2HeadOptions) {
    super();
    const make = (seed: number) =>
      new DINOProjectionHead({
        inputDim: o.inputDim,
        hiddenDim: o.hiddenDim,
        bottleneckDim: o.bottleneckDim,
        outputDim: o.outputDim,
        batchNorm: o.batchNorm,
        style: "dinov2",
        seed,
      });
    this.dinoHead = this.child("dino_head", make(o.seed));
    this.ibotHead = o.separateIbot ? this.child("ibot_head", make(o.seed + 1)) : this.dinoHead;
  }
}
