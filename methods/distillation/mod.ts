/**
 * Distillation v3, LightlyTrain's default method (`method="distillation"`, alias
 * `"distillationv3"`): a frozen teacher (any Sinter model, loaded from a safetensors file) and
 * the student see the same mixup'ed view; the student's pooled features go through a global
 * Linear head and its feature map through a local Linear head (channels-last, resized
 * bilinearly to the teacher's grid); the loss is the KL of the global features' similarity to
 * a queue of past teacher embeddings plus the KL of the token-token similarity distributions
 * (`./loss.ts`). AdamW lr 5e-4 (sqrt scaling, reference 1536), weight decay "auto"
 * (1e-6 for conv+batchnorm students, else 0.04), gradient clip 1.0.
 *
 * Auto rules from the dataset size: `queue_size="auto"` takes the bucket of
 * {@link autoQueueSize} (16 below 50 images … 8192 from 20 000); an explicit `queue_size` must
 * be below the number of images.
 *
 * @module
 */
import { METHOD_API_VERSION, type MethodPlugin, type OptimizerName } from "../../core/plugin.ts";
import { decayGroups } from "../../core/method_run.ts";
import { noGrad } from "../../core/autograd.ts";
import { keep, type Tensor } from "../../core/tensor.ts";
import { Rng } from "../../core/random.ts";
import { interpolateBilinear, permute, reshapeOp } from "../../kernels/mod.ts";
import { Linear, normalInit } from "../../models/layers.ts";
import type { ArchitectureInfo, FeatureOutput, ModelWrapper } from "../../models/wrapper.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { distillationV3Loss } from "./loss.ts";
import { linearChannelsLast } from "../distillationv2/loss.ts";
import { mixup } from "./mixup.ts";
import { resolveQueueSize, TeacherQueue } from "./queue.ts";
import { checkTeacherArgs, DISTILLATION_RUN, distillationLars, loadTeacher } from "./teacher.ts";

export { autoQueueSize } from "./queue.ts";

/** Distillation v3's method arguments (LightlyTrain `DistillationV3Args`). */
export interface DistillationV3Args extends Record<string, unknown> {
  /** Rows of the teacher queue, or `"auto"` (by dataset size). */
  queue_size: "auto" | number;
  /** Temperature of the global (queue) KL. */
  temperature_global: number;
  /** Temperature of the local (token similarity) KL. */
  temperature_local: number;
  /** Teacher model name. LightlyTrain's default `dinov3/vitb16` is not available here. */
  teacher: string;
  /** Model options of the teacher. */
  teacher_args: Record<string, unknown> | null;
  /** Safetensors file with the teacher's weights (required: nothing is downloaded). */
  teacher_weights: string | null;
  /** Weight of the local loss. */
  loss_local_weight: number;
}

/** LightlyTrain's "auto" weight decay: 1e-6 for conv+batchnorm students, else 0.04. */
export function autoWeightDecay(info: ArchitectureInfo): number {
  return info.kind === "convolutional" && info.norm === "batchnorm" ? 1e-6 : 0.04;
}

/** A `Linear(in, out)` head with `trunc_normal_(std=0.02)` weights and PyTorch's default bias. */
export function truncNormalLinear(inF: number, outF: number, seed: number): Linear {
  return new Linear(inF, outF, { rng: new Rng(seed), weightInit: normalInit(0.02, true) });
}

/** `[B, C, 1, 1]` pooled features as `[B, C]`. */
export function flatPool(model: ModelWrapper, f: FeatureOutput): Tensor {
  const p = model.forwardPool(f);
  return reshapeOp(p, [p.shape[0], p.size / p.shape[0]]);
}

const seedOf = (rng: Rng) => Math.floor(rng.next() * 2 ** 31);

/** The distillation v3 plugin. */
export const plugin: MethodPlugin<DistillationV3Args> = {
  apiVersion: METHOD_API_VERSION,
  name: "distillation",
  aliases: ["distillationv3"],
  description:
    "Distillation v3 (default): global queue KL + local token-similarity KL from a frozen teacher",
  defaults: {
    methodArgs: {
      queue_size: "auto",
      temperature_global: 0.07,
      temperature_local: 0.07,
      teacher: "dinov3/vitb16",
      teacher_args: null,
      teacher_weights: null,
      loss_local_weight: 1.0,
    },
    optimizer: "adamw",
    optimizerArgs: {
      adamw: { lr: 5e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: "auto" },
      lars: distillationLars(1.8),
    },
    ...DISTILLATION_RUN,
  },
  transforms: builtinTransforms("distillation") as unknown as Record<string, unknown>,
  validate({ args }) {
    checkTeacherArgs("distillation", args);
  },
  async create(ctx) {
    const a = ctx.args;
    const queueSize = resolveQueueSize(a.queue_size, ctx.datasetSize, "distillation");
    const model = ctx.model;
    const teacher = await loadTeacher(ctx, "distillation", a);
    const d = teacher.featureDim;
    const headG = truncNormalLinear(model.featureDim, d, seedOf(ctx.rng));
    const headL = truncNormalLinear(model.featureDim, d, seedOf(ctx.rng));
    const queue = new TeacherQueue(queueSize, d);
    return {
      paramGroups: () =>
        decayGroups([
          ...model.getModel().namedParameters("backbone."),
          ...headG.namedParameters("student_projection_head_global."),
          ...headL.namedParameters("student_projection_head_local."),
        ].filter(([, t]) => t.requiresGrad)),
      resolveOptimizerArgs(_name: OptimizerName, args: Record<string, unknown>) {
        return args.weightDecay === "auto"
          ? { ...args, weightDecay: autoWeightDecay(model.architectureInfo) }
          : args;
      },
      trainingStep(batch) {
        const x0 = batch.views[0];
        if (!x0) throw new Error("distillation needs 1 view per image, got none");
        const x = mixup(x0, ctx.rng);
        const b = x.shape[0];
        const t = noGrad(() => {
          const f = teacher.forwardFeatures(x);
          const [, c, h, w] = f.features.shape;
          return {
            global: flatPool(teacher, f),
            local: permute(f.features, [0, 2, 3, 1]).reshape([b, h * w, c]),
            grid: [h, w] as [number, number],
          };
        });
        if (t.global.shape[1] !== d || t.local.shape[2] !== d) {
          throw new Error(
            `distillation: teacher '${a.teacher}' gave ${t.global.shape[1]}-dim pooled and ` +
              `${t.local.shape[2]}-dim local features, but its featureDim (and the student ` +
              `heads) are ${d}`,
          );
        }
        const f = model.forwardFeatures(x);
        const studentGlobal = headG.forward(flatPool(model, f));
        let local: Tensor = linearChannelsLast(f.features, headL.weight, headL.bias);
        const [gh, gw] = t.grid;
        if (local.shape[2] !== gh || local.shape[3] !== gw) {
          local = interpolateBilinear(local, [gh, gw]);
        }
        const studentLocal = reshapeOp(permute(local, [0, 2, 3, 1]), [b, gh * gw, d]);
        const r = distillationV3Loss({
          teacherGlobal: t.global,
          teacherLocal: t.local,
          studentGlobal,
          studentLocal,
          queue: queue.tensor,
        }, {
          temperatureGlobal: a.temperature_global,
          temperatureLocal: a.temperature_local,
          localWeight: a.loss_local_weight,
        });
        queue.replace(keep(r.queueNew));
        return {
          loss: r.loss,
          metrics: { global_loss: r.globalLoss, local_loss: r.localLoss },
        };
      },
      exportModel: () => model,
      modules: () => ({
        model: model.getModel(),
        student_projection_head_global: headG,
        student_projection_head_local: headL,
      }),
      stateDict: async () => ({ teacher_queue: await queue.state() }),
      loadStateDict: (s) => queue.load(s.teacher_queue, "distillation"),
      dispose() {
        headG.dispose();
        headL.dispose();
        queue.dispose();
        teacher.getModel().dispose();
      },
    };
  },
};

export default plugin;
