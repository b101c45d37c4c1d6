/**
 * SimCLR (LightlyTrain `method="simclr"`): two views through the backbone and a BN projection
 * head (`Linear(in, 2048, bias=False)`-BN-ReLU-`Linear(2048, 128, bias=False)`-BN), NT-Xent over
 * both views (temperature 0.1). SGD lr 0.3 (linear scaling, reference 256), no clipping.
 *
 * @module
 */
import { METHOD_API_VERSION, type MethodPlugin } from "../../core/plugin.ts";
import { decayGroups } from "../../core/method_run.ts";
import type { Tensor } from "../../core/tensor.ts";
import { Rng } from "../../core/random.ts";
import { concat, relu, reshapeOp, slice } from "../../kernels/mod.ts";
import { BatchNorm, Linear } from "../../models/layers.ts";
import { Module } from "../../models/module.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { ntxent } from "./loss.ts";

/** SimCLR's method arguments (LightlyTrain `SimCLRArgs`). */
export interface SimCLRArgs extends Record<string, unknown> {
  /** Hidden width of the projection head. */
  hidden_dim: number;
  /** Output width of the projection head. */
  output_dim: number;
  /** Linear layers in the head (2: Linear-BN-ReLU-Linear-BN). */
  num_layers: number;
  /** BatchNorm after each Linear. */
  batch_norm: boolean;
  /** NT-Xent temperature. */
  temperature: number;
}

/** LightlySSL `SimCLRProjectionHead` with PyTorch names `layers.{0,1,3,4,...}`. */
export class SimCLRHead extends Module {
  readonly #layers: (Linear | BatchNorm | "relu")[] = [];

  constructor(inDim: number, args: SimCLRArgs, seed: number) {
    super();
    let idx = 0;
    let dim = inDim;
    for (let l = 0; l < args.num_layers; l++) {
      const last = l === args.num_layers - 1;
      const out = last ? args.output_dim : args.hidden_dim;
      const lin = this.child(
        `${idx++}`,
        new Linear(dim, out, { bias: !args.batch_norm, rng: new Rng(seed + l) }),
      );
      this.#layers.push(lin);
      if (args.batch_norm) this.#layers.push(this.child(`${idx++}`, new BatchNorm(out)));
      if (!last) {
        this.#layers.push("relu");
        idx++;
      }
      dim = out;
    }
  }

  /** Projects `[N, in]` to `[N, output_dim]`. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.#layers) h = l === "relu" ? relu(h) : l.forward(h);
    return h;
  }
}

/** The SimCLR plugin. */
export const plugin: MethodPlugin<SimCLRArgs> = {
  apiVersion: METHOD_API_VERSION,
  name: "simclr",
  description:
    "SimCLR: contrastive learning of two augmented views with NT-Xent (Chen et al., 2020)",
  defaults: {
    methodArgs: {
      hidden_dim: 2048,
      output_dim: 128,
      num_layers: 2,
      batch_norm: true,
      temperature: 0.1,
    },
    optimizer: "sgd",
    optimizerArgs: {
      sgd: { lr: 0.3, momentum: 0.9, weightDecay: 1e-4 },
      adamw: { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
      lars: { lr: 0.3, momentum: 0.9, weightDecay: 1e-6, trustCoefficient: 0.001, eps: 1e-8 },
    },
    epochs: 100,
    lrScaleMethod: "linear",
    referenceBatchSize: 256,
    gradientClip: null,
    warmup: "epochs",
  },
  transforms: builtinTransforms("simclr") as unknown as Record<string, unknown>,
  create(ctx) {
    const model = ctx.model;
    const head = new SimCLRHead(model.featureDim, ctx.args, Math.floor(ctx.rng.next() * 2 ** 31));
    const flat = (x: Tensor) => {
      const f = model.forwardFeatures(x);
      const p = model.forwardPool(f);
      return reshapeOp(p, [p.shape[0], model.featureDim]);
    };
    return {
      paramGroups: () =>
        decayGroups([
          ...model.getModel().namedParameters("backbone."),
          ...head.namedParameters("head."),
        ].filter(([, t]) => t.requiresGrad)),
      trainingStep(batch) {
        const [v0, v1] = batch.views;
        if (!v0 || !v1) {
          throw new Error(`simclr needs 2 views per image, got ${batch.views.length}`);
        }
        const b = v0.shape[0];
        // Both views in one backbone and head pass: BatchNorm sees both views' statistics, as in
        // LightlyTrain (one forward of the concatenated batch).
        const z = head.forward(flat(concat([v0, v1], 0)));
        const r = ntxent(slice(z, 0, 0, b), slice(z, 0, b, 2 * b), {
          temperature: ctx.args.temperature,
        });
        return { loss: r.loss };
      },
      exportModel: () => model,
      modules: () => ({ model: model.getModel(), head }),
      dispose: () => head.dispose(),
    };
  },
};

export default plugin;
