/**
 * VICReg (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
 * Self-Supervised Learning", ICLR 2022) as a third-party Sinter method plugin: it lives outside
 * `methods/`, imports only Sinter's public modules, and is loaded with `plugins=<this folder>`
 * or by dropping the folder into a plugins directory.
 *
 * Two views go through the backbone and the VICReg expander (LightlySSL
 * `VICRegProjectionHead`: (Linear-BN-ReLU) × (num_layers−1), then Linear), and the loss is
 * `λ·invariance + μ·variance + ν·covariance` (`./loss.ts`). LARS lr 0.2 (linear scaling,
 * reference 256), weight decay 1e-6, as in the paper.
 *
 * @module
 */
import {
  concat,
  decayGroups,
  METHOD_API_VERSION,
  type MethodPlugin,
  relu,
  reshapeOp,
  Rng,
  slice,
  type Tensor,
} from "../../../mod.ts";
import { BatchNorm, Linear, Module } from "../../../models/mod.ts";
import { parseMethodTransforms } from "../../../transforms/mod.ts";
import transformsYaml from "./transforms.yaml" with { type: "text" };
import { vicregLoss } from "./loss.ts";

/** VICReg's method arguments. */
export interface VICRegArgs extends Record<string, unknown> {
  /** Hidden width of the expander. */
  hidden_dim: number;
  /** Output width of the expander (the embedding the loss sees). */
  output_dim: number;
  /** Linear layers of the expander. */
  num_layers: number;
  /** Invariance weight λ. */
  lambda_param: number;
  /** Variance weight μ. */
  mu_param: number;
  /** Covariance weight ν. */
  nu_param: number;
  /** ε under the variance's square root. */
  eps: number;
}

/** LightlySSL `VICRegProjectionHead` with PyTorch names `layers.{0,1,3,4,...}`. */
export class VICRegHead extends Module {
  readonly #layers: (Linear | BatchNorm | "relu")[] = [];

  constructor(inDim: number, args: VICRegArgs, seed: number) {
    super();
    if (!Number.isInteger(args.num_layers) || args.num_layers < 2) {
      throw new Error(`vicreg: num_layers must be an integer >= 2, got ${args.num_layers}`);
    }
    let idx = 0, dim = inDim;
    for (let l = 0; l < args.num_layers; l++) {
      const last = l === args.num_layers - 1;
      const out = last ? args.output_dim : args.hidden_dim;
      const rng = new Rng(seed + l);
      this.#layers.push(this.child(`${idx++}`, new Linear(dim, out, { bias: last, rng })));
      if (!last) {
        this.#layers.push(this.child(`${idx++}`, new BatchNorm(out)));
        this.#layers.push("relu");
        idx++;
      }
      dim = out;
    }
  }

  /** Expands `[N, in]` to `[N, output_dim]`. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.#layers) h = l === "relu" ? relu(h) : l.forward(h);
    return h;
  }
}

/** The VICReg plugin. */
export const plugin: MethodPlugin<VICRegArgs> = {
  apiVersion: METHOD_API_VERSION,
  name: "vicreg",
  description: "VICReg: variance-invariance-covariance regularization of two views " +
    "(Bardes et al., 2022; example third-party plugin)",
  defaults: {
    methodArgs: {
      hidden_dim: 8192,
      output_dim: 8192,
      num_layers: 3,
      lambda_param: 25,
      mu_param: 25,
      nu_param: 1,
      eps: 1e-4,
    },
    optimizer: "lars",
    optimizerArgs: {
      lars: { lr: 0.2, momentum: 0.9, weightDecay: 1e-6, trustCoefficient: 0.001, eps: 1e-8 },
      adamw: { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
    },
    epochs: 100,
    lrScaleMethod: "linear",
    referenceBatchSize: 256,
    gradientClip: null,
    warmup: "epochs",
  },
  transforms: parseMethodTransforms(
    transformsYaml,
    "examples/plugins/vicreg/transforms.yaml",
  ) as unknown as Record<string, unknown>,
  create(ctx) {
    const model = ctx.model;
    const head = new VICRegHead(model.featureDim, ctx.args, Math.floor(ctx.rng.next() * 2 ** 31));
    const a = ctx.args;
    return {
      paramGroups: () =>
        decayGroups([
          ...model.getModel().namedParameters("backbone."),
          ...head.namedParameters("projection_head."),
        ].filter(([, t]) => t.requiresGrad)),
      trainingStep(batch) {
        const [v0, v1] = batch.views;
        if (!v0 || !v1) {
          throw new Error(`vicreg needs 2 views per image, got ${batch.views.length}`);
        }
        const b = v0.shape[0];
        // One backbone and expander pass over both views (BatchNorm sees both).
        const f = model.forwardFeatures(concat([v0, v1], 0));
        const p = model.forwardPool(f);
        const z = head.forward(reshapeOp(p, [2 * b, model.featureDim]));
        const r = vicregLoss(slice(z, 0, 0, b), slice(z, 0, b, 2 * b), {
          lambdaParam: a.lambda_param,
          muParam: a.mu_param,
          nuParam: a.nu_param,
          eps: a.eps,
        });
        return {
          loss: r.loss,
          metrics: {
            invariance_loss: r.invariance,
            variance_loss: r.variance,
            covariance_loss: r.covariance,
          },
        };
      },
      exportModel: () => model,
      modules: () => ({ model: model.getModel(), projection_head: head }),
      dispose: () => head.dispose(),
    };
  },
};

export default plugin;
