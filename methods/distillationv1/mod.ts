/**
 * Distillation v1 (`method="distillationv1"`): the student's pooled embedding, through a
 * Linear head, learns the frozen DINOv2 teacher's class-token similarity distribution over a
 * queue of past teacher embeddings (KL, temperature 0.07, `./loss.ts`). Mixup as v3.
 * LARS lr 1.8 (sqrt scaling, reference 1536), weight decay 1e-6; AdamW lr 5e-4, weight decay 0
 * as the alternative; gradient clip 1.0.
 *
 * Auto rule from the dataset size: `queue_size="auto"` as distillation v3 (16 below 50 images
 * … 8192 from 20 000); an explicit `queue_size` must be below the number of images.
 *
 * @module
 */
import { METHOD_API_VERSION, type MethodPlugin } from "../../core/plugin.ts";
import { decayGroups } from "../../core/method_run.ts";
import { noGrad } from "../../core/autograd.ts";
import { keep } from "../../core/tensor.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { distillationV1Loss } from "./loss.ts";
import { mixup } from "../distillation/mixup.ts";
import { resolveQueueSize, TeacherQueue } from "../distillation/queue.ts";
import {
  checkTeacherArgs,
  DISTILLATION_RUN,
  distillationLars,
  loadTeacher,
} from "../distillation/teacher.ts";
import { flatPool, truncNormalLinear } from "../distillation/mod.ts";

/** Distillation v1's method arguments (LightlyTrain `DistillationArgs`). */
export interface DistillationV1Args extends Record<string, unknown> {
  /** Rows of the teacher queue, or `"auto"` (by dataset size). */
  queue_size: "auto" | number;
  /** Softmax temperature of the KL. */
  temperature: number;
  /** Teacher model name (a DINOv2 ViT). */
  teacher: string;
  /** Deprecated; has no effect. */
  teacher_url: string | null;
  /** Safetensors file with the teacher's weights (required: nothing is downloaded). */
  teacher_weights: string | null;
}

const ACCEPT = {
  test: (name: string) => name.startsWith("dinov2/"),
  what: "DINOv2 ViT teachers (dinov2/*, see list_models)",
};

/** The distillation v1 plugin. */
export const plugin: MethodPlugin<DistillationV1Args> = {
  apiVersion: METHOD_API_VERSION,
  name: "distillationv1",
  description:
    "Distillation v1: queue KL of the student embedding to a frozen DINOv2 teacher's CLS token",
  defaults: {
    methodArgs: {
      queue_size: "auto",
      temperature: 0.07,
      teacher: "dinov2/vitb14-noreg",
      teacher_url: null,
      teacher_weights: null,
    },
    optimizer: "lars",
    optimizerArgs: {
      lars: distillationLars(1.8),
      adamw: { lr: 5e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.0 },
    },
    ...DISTILLATION_RUN,
  },
  transforms: builtinTransforms("distillationv1") as unknown as Record<string, unknown>,
  validate({ args }) {
    checkTeacherArgs("distillationv1", args, ACCEPT);
  },
  async create(ctx) {
    const a = ctx.args;
    checkTeacherArgs("distillationv1", a, ACCEPT);
    const queueSize = resolveQueueSize(a.queue_size, ctx.datasetSize, "distillationv1");
    if (a.teacher_url !== null && a.teacher_url !== undefined) {
      console.warn(
        "distillationv1: teacher_url is deprecated and has no effect; use teacher_weights",
      );
    }
    const model = ctx.model;
    const teacher = await loadTeacher(ctx, "distillationv1", a);
    const d = teacher.featureDim;
    const head = truncNormalLinear(model.featureDim, d, Math.floor(ctx.rng.next() * 2 ** 31));
    const queue = new TeacherQueue(queueSize, d);
    return {
      paramGroups: () =>
        decayGroups([
          ...model.getModel().namedParameters("backbone."),
          ...head.namedParameters("student_head."),
        ].filter(([, t]) => t.requiresGrad)),
      trainingStep(batch) {
        const x0 = batch.views[0];
        if (!x0) throw new Error("distillationv1 needs 1 view per image, got none");
        const x = mixup(x0, ctx.rng);
        const t = noGrad(() => flatPool(teacher, teacher.forwardFeatures(x)));
        if (t.shape[1] !== d) {
          throw new Error(
            `distillationv1: teacher '${a.teacher}' gave ${t.shape[1]}-dim embeddings, but its ` +
              `featureDim (and the student head) is ${d}`,
          );
        }
        const s = head.forward(flatPool(model, model.forwardFeatures(x)));
        const r = distillationV1Loss(s, t, queue.tensor, { temperature: a.temperature });
        queue.replace(keep(r.queueNew));
        return { loss: r.loss };
      },
      exportModel: () => model,
      modules: () => ({ model: model.getModel(), student_head: head }),
      stateDict: async () => ({ teacher_queue: await queue.state() }),
      loadStateDict: (s) => queue.load(s.teacher_queue, "distillationv1"),
      dispose() {
        head.dispose();
        queue.dispose();
        teacher.getModel().dispose();
      },
    };
  },
};

export default plugin;
