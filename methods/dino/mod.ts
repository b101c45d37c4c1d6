/**
 * DINO (LightlyTrain `method="dino"`): self-distillation with no labels. The model the user
 * passes becomes the EMA **teacher** (and is what gets exported); the student is a deep copy.
 * Both get a LightlySSL `DINOProjectionHead` (independently initialized, as LightlyTrain).
 *
 * Per step: EMA update of teacher backbone + head from the student (cosine momentum
 * `momentum_start -> momentum_end`, at the start of the step), teacher on the 2 global views,
 * student on every view (one forward for the globals, one per local-view size), DINO loss
 * with centering (`dinoLoss`) and the center's EMA update, the teacher temperature's linear
 * warmup. The student's last layer is frozen (lr 0, wd 0) for `student_freeze_last_layer_steps`.
 * Logs `schedule/momentum` and `schedule/teacher_temp`.
 *
 * Optimizer: SGD lr 0.03 (momentum 0.9, wd 1e-4) or AdamW lr 5e-4 (wd 0.04), linear LR
 * scaling (reference 256), warmup `min(12 500, 0.1·total)` steps then cosine to 0.001×,
 * gradient clip 3.0. Groups: `params`, `params_last_layer`, `params_no_weight_decay`.
 *
 * @module
 */
import { METHOD_API_VERSION, type MethodPlugin, type StepSchedule } from "../../core/plugin.ts";
import { keep, type Tensor } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { upload } from "../../core/engine.ts";
import { cosineSchedule, dinoTeacherTempSchedule } from "../../core/schedule.ts";
import { concat, reshapeOp, zeros } from "../../kernels/mod.ts";
import type { ModelWrapper } from "../../models/wrapper.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { dinoLoss } from "./loss.ts";
import { DINOProjectionHead } from "./head.ts";
import { copyModel, emaModules, freeze, groupBySize } from "./teacher.ts";
import { lightlyWeightDecaySplit } from "./param_groups.ts";
import { DINO_DEFAULT_ARGS, type DINOArgs, resolveDinoArgs } from "./auto.ts";

export { DINO_DEFAULT_ARGS, type DINOArgs } from "./auto.ts";

/** Arguments the core's LR schedule fixes from the plugin defaults (not changeable per run). */
const FIXED_ARGS = ["warmup_steps", "warmup_max_steps_fraction"] as const;

/** Backbone features flattened to `[B, featureDim]` (LightlyTrain `flatten(model(x))`). */
export function embed(model: ModelWrapper, x: Tensor): Tensor {
  const p = model.forwardPool(model.forwardFeatures(x));
  return reshapeOp(p, [p.shape[0], model.featureDim]);
}

const cat = (xs: Tensor[]) => (xs.length === 1 ? xs[0] : concat(xs, 0));

/** The DINO plugin. */
export const plugin: MethodPlugin<DINOArgs> = {
  apiVersion: METHOD_API_VERSION,
  name: "dino",
  description:
    "DINO: self-distillation of an EMA teacher into a student over multi-crop views (Caron et al., 2021)",
  defaults: {
    methodArgs: DINO_DEFAULT_ARGS,
    optimizer: "sgd",
    optimizerArgs: {
      sgd: { lr: 0.03, momentum: 0.9, weightDecay: 1e-4 },
      adamw: { lr: 5e-4, weightDecay: 0.04, betas: [0.9, 0.999], eps: 1e-8 },
    },
    epochs: 100,
    lrScaleMethod: "linear",
    referenceBatchSize: 256,
    gradientClip: 3.0,
    warmup: { steps: 12500, maxFraction: 0.1 },
    lrEndFactor: 0.001,
  },
  transforms: builtinTransforms("dino") as unknown as Record<string, unknown>,
  validate({ args }) {
    for (const k of FIXED_ARGS) {
      if (args[k] !== DINO_DEFAULT_ARGS[k]) {
        throw new Error(
          `dino: method arg '${k}' cannot be changed (got ${args[k]}): the LR warmup is ` +
            `min(${DINO_DEFAULT_ARGS.warmup_steps}, ` +
            `${DINO_DEFAULT_ARGS.warmup_max_steps_fraction}·total steps)`,
        );
      }
    }
  },
  async create(ctx) {
    const args = ctx.args;
    plugin.validate!({ model: ctx.model, args });
    const a = resolveDinoArgs(args, ctx);
    const total = ctx.totalSteps;
    const teacher = ctx.model;
    const student = await copyModel(teacher);
    const headOpts = {
      inputDim: teacher.featureDim,
      hiddenDim: args.hidden_dim,
      bottleneckDim: args.bottleneck_dim,
      outputDim: a.outputDim,
      batchNorm: args.batch_norm,
      normLastLayer: args.norm_last_layer,
      style: "lightly" as const,
    };
    const seed = () => Math.floor(ctx.rng.next() * 2 ** 31);
    const teacherHead = new DINOProjectionHead({ ...headOpts, seed: seed() });
    const studentHead = new DINOProjectionHead({ ...headOpts, seed: seed() });
    freeze(teacher.getModel(), teacherHead);
    const d = a.outputDim;
    let center = keep(zeros([1, d]));

    const momentumAt = (step: number) =>
      cosineSchedule(step, total, a.momentumStart, args.momentum_end);
    const teacherTempAt = (step: number) =>
      dinoTeacherTempSchedule(step, a.warmupTeacherTempSteps, a.warmupTeacherTemp, a.teacherTemp);

    return {
      paramGroups() {
        const last = new Set(studentHead.lastLayerParameters().map(([, t]) => t));
        const split = [
          lightlyWeightDecaySplit(student.getModel(), "student_embedding_model."),
          lightlyWeightDecaySplit(studentHead, "student_projection_head."),
        ];
        const trainable = ([, t]: [string, Tensor]) => t.requiresGrad;
        const decay = split.flatMap((s) => s.decay).filter(([, t]) => !last.has(t));
        const noDecay = split.flatMap((s) => s.noDecay).filter(([, t]) => !last.has(t));
        const lastLayer = studentHead.lastLayerParameters("student_projection_head.");
        const groups = [
          { name: "params", params: decay.filter(trainable) },
          { name: "params_last_layer", params: lastLayer.filter(trainable) },
          { name: "params_no_weight_decay", params: noDecay.filter(trainable), weightDecay: 0 },
        ];
        return groups.filter((g) => g.params.length > 0);
      },
      schedule(info): StepSchedule {
        const step = info.step;
        const start = a.weightDecayStart ?? info.weightDecay;
        const end = a.weightDecayEnd ?? info.weightDecay;
        const wd = start !== undefined && end !== undefined
          ? cosineSchedule(step, total, start, end)
          : undefined;
        const frozen = step < a.freezeLastLayerSteps;
        const weightDecay: Record<string, number> = {};
        if (wd !== undefined) weightDecay.params = wd;
        if (frozen) weightDecay.params_last_layer = 0;
        else if (wd !== undefined) weightDecay.params_last_layer = wd;
        return {
          lrFactor: frozen ? { params_last_layer: 0 } : {},
          weightDecay,
          logs: { momentum: momentumAt(step), teacher_temp: teacherTempAt(step) },
        };
      },
      trainingStep(batch, info) {
        const views = batch.views;
        if (views.length < 2) {
          throw new Error(`dino needs at least 2 (global) views per image, got ${views.length}`);
        }
        const b = views[0].shape[0];
        const bad = views.find((v) => v.shape.length !== 4 || v.shape[0] !== b);
        if (bad) {
          throw new Error(
            `dino: every view must be [${b}, C, H, W] (same batch), got [${bad.shape.join(", ")}]`,
          );
        }
        // LightlyTrain updates the teacher at the start of the step.
        emaModules(
          [teacher.getModel(), teacherHead],
          [student.getModel(), studentHead],
          momentumAt(info.step),
        );
        const globals = cat([views[0], views[1]]);
        const tOut = noGrad(() => teacherHead.forward(embed(teacher, globals)));
        const parts = [studentHead.forward(embed(student, globals))];
        for (const g of groupBySize(views.slice(2))) {
          parts.push(studentHead.forward(embed(student, cat(g))));
        }
        const r = dinoLoss(
          reshapeOp(tOut, [2, b, d]),
          reshapeOp(cat(parts), [views.length, b, d]),
          center,
          {
            teacherTemp: teacherTempAt(info.step),
            studentTemp: args.student_temp,
            centerMomentum: args.center_momentum,
          },
        );
        // The center is updated right away (as LightlySSL's DINOLoss, once per forward, so
        // also per micro-batch under gradient accumulation); the old one's reads are already
        // queued.
        center.dispose();
        center = keep(r.centerNew);
        return { loss: r.loss };
      },
      exportModel: () => teacher,
      modules: () => ({
        teacher_embedding_model: teacher.getModel(),
        teacher_projection_head: teacherHead,
        student_embedding_model: student.getModel(),
        student_projection_head: studentHead,
      }),
      async stateDict() {
        return {
          "criterion.center": {
            dtype: "F32" as const,
            shape: [1, d],
            data: (await center.data()) as Float32Array,
          },
        };
      },
      loadStateDict(state) {
        const c = state["criterion.center"];
        if (!c || c.data.length !== d) {
          throw new Error(`dino: checkpoint has no center of ${d} values ('criterion.center')`);
        }
        upload(center.buffer, Float32Array.from(c.data as Float32Array));
      },
      dispose() {
        student.getModel().dispose();
        teacherHead.dispose();
        studentHead.dispose();
        center.dispose();
      },
    };
  },
};

export default plugin;
