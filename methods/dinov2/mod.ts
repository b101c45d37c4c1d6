/**
 * DINOv2 (LightlyTrain `method="dinov2"`, the "fast setup" of Meta's DINOv2) for `dinov2/*`
 * ViTs. The model the user passes becomes the EMA **teacher** (frozen, eval mode, exported);
 * the student is a deep copy. Each has a `DINOv2Head` (DINO head shared with iBOT by default).
 *
 * Per step: teacher temperature linear warmup; block masks for `int(2B·mask_probability)` of
 * the 2B global crops (ratios spaced by `linspace(0.1, 0.5)`, shuffled); teacher (no masks) on
 * the global crops: class tokens through the DINO head (the loss swaps the two views), masked
 * patch tokens through the iBOT head, softmax centering with EMA centers (or Sinkhorn-Knopp);
 * student with mask tokens on the global crops (class tokens -> DINO head, masked patches ->
 * iBOT head) and without on the local crops (one forward per size); the loss
 * `w_dino·(global + local) + w_ibot·ibot + w_koleo·KoLeo(student global CLS before the head)`
 * (`dinov2Loss`). After the optimizer step the teacher backbone and head follow the student
 * with cosine momentum 0.992 -> 1 (under gradient accumulation also after each earlier
 * micro-batch, as Lightning's `on_train_batch_end`).
 *
 * Optimizer: AdamW lr 4e-3 (betas 0.9/0.999, wd 0.04), sqrt LR scaling (reference 1024),
 * layer-wise LR decay 0.9 and patch_embed × 0.2 as per-group LR scales, weight decay cosine
 * 0.04 -> 0.4 on decayed groups, last layer frozen 1250 steps, warmup min(total − 1, 12 500)
 * steps then cosine to `min_lr / lr`, gradient clip 3.0, 125 000 steps by default.
 *
 * @module
 */
import kernelKoleo from "./koleo.wgsl" with { type: "text" };
import kernelKoleoGrad from "./koleo_grad.wgsl" with { type: "text" };
import kernelMasks from "./masks_weight.wgsl" with { type: "text" };
import kernelSinkhorn from "./sinkhorn.wgsl" with { type: "text" };
import kernelGather from "./gather_rows.wgsl" with { type: "text" };
import {
  METHOD_API_VERSION,
  type MethodPlugin,
  type ParamGroupSpec,
  type StepSchedule,
} from "../../core/plugin.ts";
import { keep, type Tensor, tensor } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { upload } from "../../core/engine.ts";
import { cosineSchedule, linearWarmupSchedule } from "../../core/schedule.ts";
import { add, concat, full, reshapeOp, scale, zeros } from "../../kernels/mod.ts";
import { DinoVisionTransformer } from "../../models/dinov2.ts";
import type { ModelWrapper } from "../../models/wrapper.ts";
import type { StateDict } from "../../models/module.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { copyModel, emaModules, freeze, groupBySize } from "../dino/teacher.ts";
import { DINOV2_DEFAULT_ARGS, DINOV2_FIXED_ARGS, type DINOv2Args } from "./args.ts";
import { DINOv2Head } from "./head.ts";
import { dinov2ParamGroups } from "./param_groups.ts";
import { createCollatedMasks, MaskingGenerator } from "./masking.ts";
import { gatherRows } from "./gather.ts";
import { dinov2DinoLoss, dinov2Loss, koleoLoss } from "./loss.ts";

export { DINOV2_DEFAULT_ARGS, type DINOv2Args } from "./args.ts";

const cat = (xs: Tensor[]) => (xs.length === 1 ? xs[0] : concat(xs, 0));

/** The DINOv2 backbone of a wrapper, or an error naming the models DINOv2 accepts. */
export function dinov2Backbone(model: ModelWrapper): DinoVisionTransformer {
  const vit = model.getModel();
  if (!model.name.startsWith("dinov2/") || !(vit instanceof DinoVisionTransformer)) {
    throw new Error(
      `method 'dinov2' only supports DINOv2 ViTs (dinov2/vits14, dinov2/vitb14, dinov2/vitl14 ` +
        `and their -noreg variants); got model '${model.name}'. Use method 'dino' or ` +
        `'distillation' for other models.`,
    );
  }
  return vit;
}

/** The DINOv2 plugin. */
export const plugin: MethodPlugin<DINOv2Args> = {
  apiVersion: METHOD_API_VERSION,
  name: "dinov2",
  description:
    "DINOv2: self-distillation with DINO and iBOT losses, KoLeo and block masking for ViTs (Oquab et al., 2023)",
  defaults: {
    methodArgs: DINOV2_DEFAULT_ARGS,
    optimizer: "adamw",
    optimizerArgs: {
      adamw: { lr: 0.004, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.04 },
    },
    epochs: null,
    steps: 125_000,
    lrScaleMethod: "sqrt",
    referenceBatchSize: 1024,
    gradientClip: DINOV2_DEFAULT_ARGS.gradient_clip_val,
    warmup: { steps: DINOV2_DEFAULT_ARGS.warmup_steps },
    lrEndFactor: DINOV2_DEFAULT_ARGS.min_lr / 0.004,
  },
  transforms: builtinTransforms("dinov2") as unknown as Record<string, unknown>,
  kernels: {
    "koleo.wgsl": kernelKoleo,
    "koleo_grad.wgsl": kernelKoleoGrad,
    "masks_weight.wgsl": kernelMasks,
    "sinkhorn.wgsl": kernelSinkhorn,
    "gather_rows.wgsl": kernelGather,
  },
  validate({ model, args }) {
    dinov2Backbone(model);
    for (const k of DINOV2_FIXED_ARGS) {
      if (args[k] !== DINOV2_DEFAULT_ARGS[k]) {
        throw new Error(
          `dinov2: method arg '${k}' cannot be changed (got ${args[k]}); this version uses ` +
            `${DINOV2_DEFAULT_ARGS[k]}`,
        );
      }
    }
    if (args.center_method !== "softmax" && args.center_method !== "sinkhorn_knopp") {
      throw new Error(
        `dinov2: center_method must be "softmax" or "sinkhorn_knopp", got "${args.center_method}"`,
      );
    }
    if (!(args.mask_ratio_min <= args.mask_ratio_max)) {
      throw new Error(`dinov2: mask_ratio_min must not exceed mask_ratio_max`);
    }
  },
  async create(ctx) {
    const args = ctx.args;
    plugin.validate!({ model: ctx.model, args });
    const total = ctx.totalSteps;
    const teacher = ctx.model;
    const teacherVit = dinov2Backbone(teacher);
    const student = await copyModel(teacher);
    const studentVit = dinov2Backbone(student);
    const patch = teacherVit.config.patchSize;
    const headOpts = {
      inputDim: teacherVit.config.embedDim,
      hiddenDim: args.hidden_dim,
      bottleneckDim: args.dino_bottleneck_dim,
      outputDim: args.output_dim,
      batchNorm: args.batch_norm,
      separateIbot: args.ibot_separate_head,
    };
    const seed = () => Math.floor(ctx.rng.next() * 2 ** 30);
    const teacherHead = new DINOv2Head({ ...headOpts, seed: seed() });
    const studentHead = new DINOv2Head({ ...headOpts, seed: seed() });
    freeze(teacherVit, teacherHead);
    teacherVit.eval();
    teacherHead.eval();
    const k = args.output_dim;
    const softmax = args.center_method === "softmax";
    let dinoCenter = keep(zeros([1, k]));
    let ibotCenter = keep(zeros([1, k]));
    // Whether a micro-batch ran since the last EMA update (gradient accumulation).
    let emaDue = false;
    const ema = (globalStep: number) =>
      emaModules(
        [teacherVit, teacherHead],
        [studentVit, studentHead],
        cosineSchedule(globalStep, total, args.momentum_start, args.momentum_end),
      );
    let groups: ParamGroupSpec[] | null = null;

    const paramGroups = () =>
      groups ??= dinov2ParamGroups(studentVit, studentHead, {
        numLayers: studentVit.config.depth,
        layerwiseDecay: args.layerwise_decay,
        patchEmbedLrMultiplier: args.patch_embed_lr_multiplier,
      });

    return {
      paramGroups,
      schedule(info): StepSchedule {
        const step = info.step;
        const base = info.weightDecay ?? plugin.defaults.optimizerArgs.adamw!.weightDecay as number;
        const start = args.weight_decay_start === "auto" ? base : args.weight_decay_start;
        const wd = cosineSchedule(step, total, start, args.weight_decay_end);
        const lrFactor: Record<string, number> = {};
        const weightDecay: Record<string, number> = {};
        for (const g of paramGroups()) {
          // Only groups with weight decay follow the schedule (upstream: `wd != 0`).
          if (g.weightDecay !== 0 && base !== 0) weightDecay[g.name] = wd;
          const frozenBackbone = step < args.student_freeze_backbone_steps &&
            !g.name.includes("head");
          const frozenLast = step < args.student_freeze_last_layer_steps &&
            g.name.includes("last_layer");
          if (frozenBackbone || frozenLast) lrFactor[g.name] = 0;
        }
        return { lrFactor, weightDecay };
      },
      trainingStep(batch, info) {
        // Under gradient accumulation, on_train_batch_end of the previous micro-batch (before
        // the optimizer step, so at global_step = step) is due before this forward.
        if (emaDue) ema(info.step);
        const views = batch.views;
        if (views.length < 2) {
          throw new Error(`dinov2 needs at least 2 (global) views per image, got ${views.length}`);
        }
        const b = views[0].shape[0];
        const bad = views.find((v) => v.shape.length !== 4 || v.shape[0] !== b);
        if (bad) {
          throw new Error(
            `dinov2: every view must be [${b}, C, H, W] (same batch), got [${
              bad.shape.join(", ")
            }]`,
          );
        }
        const teacherTemp = linearWarmupSchedule(
          info.step,
          args.teacher_temp_warmup_steps,
          args.teacher_temp_start,
          args.teacher_temp_end,
        );
        const globals = cat([views[0], views[1]]);
        teacherVit.checkInput(globals.shape);
        const nCrops = 2 * b;
        const h = globals.shape[2] / patch, w = globals.shape[3] / patch, n = h * w;
        const gen = new MaskingGenerator(ctx.rng, {
          height: h,
          width: w,
          maxNumPatches: Math.trunc(0.5 * h * w),
        });
        const cm = createCollatedMasks(ctx.rng, gen, {
          maskRatioMin: args.mask_ratio_min,
          maskRatioMax: args.mask_ratio_max,
          nMaskedCrops: Math.trunc(nCrops * args.mask_probability),
          nCrops,
        });
        const m = cm.indices.length;
        const dim = teacherVit.config.embedDim;
        const flat = (t: Tensor) => reshapeOp(t, [nCrops * n, dim]);

        const t = noGrad(() => {
          const f = teacherVit.forwardFeatures(globals);
          return {
            cls: teacherHead.dinoHead.forward(f.clsToken),
            patches: m > 0
              ? teacherHead.ibotHead.forward(gatherRows(flat(f.patchTokens), cm.indices))
              : null,
          };
        });
        const s = studentVit.forwardFeatures(globals, tensor(cm.masks, [nCrops, n]));
        const sCls = studentHead.dinoHead.forward(s.clsToken);
        const sLocalParts = groupBySize(views.slice(2)).map((g) =>
          studentHead.dinoHead.forward(studentVit.forwardFeatures(cat(g)).clsToken)
        );
        const sLocal = sLocalParts.length ? cat(sLocalParts) : null;
        const common = {
          teacherTemp,
          studentTemp: args.student_temp,
          centering: args.center_method,
          centerMomentum: args.center_momentum,
        };
        let out: Record<string, Tensor>;
        let centers: { dino: Tensor | null; ibot: Tensor | null };
        if (m > 0) {
          const sPatch = studentHead.ibotHead.forward(gatherRows(flat(s.patchTokens), cm.indices));
          const r = dinov2Loss({
            studentClsGlobal: sCls,
            studentClsLocal: sLocal,
            teacherCls: t.cls,
            studentPatchMasked: sPatch,
            teacherPatchMasked: t.patches!,
            masks: tensor(cm.masks, [nCrops, n], "u32"),
            studentClsBeforeHead: s.clsToken,
            masksWeight: tensor(cm.weights, [m]),
          }, {
            ...common,
            dinoCenter: softmax ? dinoCenter : undefined,
            ibotCenter: softmax ? ibotCenter : undefined,
            nGlobal: 2,
            dinoLossWeight: args.dino_loss_weight,
            ibotLossWeight: args.ibot_loss_weight,
            koleoLossWeight: args.koleo_loss_weight,
          });
          out = {
            loss: r.loss,
            dino_global_loss: r.dinoGlobalLoss,
            dino_local_loss: r.dinoLocalLoss,
            ibot_loss: r.ibotLoss,
            koleo_loss: r.koleoLoss,
          };
          centers = { dino: r.dinoCenterNew, ibot: r.ibotCenterNew };
        } else {
          // No patch got masked (tiny grids): no iBOT term, and its center stays.
          const dino = dinov2DinoLoss(sCls, sLocal, t.cls, {
            ...common,
            center: softmax ? dinoCenter : undefined,
            nGlobal: 2,
          });
          const koleo = koleoLoss(s.clsToken, { chunks: 2 }).loss;
          const ibot = full([], 0);
          out = {
            loss: add(
              scale(add(dino.lossGlobal, dino.lossLocal), args.dino_loss_weight),
              scale(koleo, args.koleo_loss_weight),
            ),
            dino_global_loss: dino.lossGlobal,
            dino_local_loss: dino.lossLocal,
            ibot_loss: ibot,
            koleo_loss: koleo,
          };
          centers = { dino: dino.centerNew, ibot: null };
        }
        // Upstream applies the centers' update lazily at the next centering (the next
        // micro-batch or step): the same as replacing them now (their reads are queued).
        if (centers.dino) {
          dinoCenter.dispose();
          dinoCenter = keep(centers.dino);
        }
        if (centers.ibot) {
          ibotCenter.dispose();
          ibotCenter = keep(centers.ibot);
        }
        emaDue = true;
        const { loss, ...metrics } = out;
        return { loss, metrics };
      },
      afterStep(info) {
        // Lightning's on_train_batch_end after the optimizer step: global_step counts it.
        ema(info.step + 1);
        emaDue = false;
      },
      exportModel: () => teacher,
      modules: () => ({
        teacher_embedding_model: teacherVit,
        teacher_head: teacherHead,
        student_embedding_model: studentVit,
        student_head: studentHead,
      }),
      async stateDict(): Promise<StateDict> {
        return {
          "dino_loss.center": {
            dtype: "F32",
            shape: [1, k],
            data: (await dinoCenter.data()) as Float32Array,
          },
          "ibot_loss.center": {
            dtype: "F32",
            shape: [1, 1, k],
            data: (await ibotCenter.data()) as Float32Array,
          },
        };
      },
      loadStateDict(state) {
        const entries: [string, Tensor][] = [
          ["dino_loss.center", dinoCenter],
          ["ibot_loss.center", ibotCenter],
        ];
        for (const [key, c] of entries) {
          const v = state[key];
          if (!v || v.data.length !== k) {
            throw new Error(`dinov2: checkpoint has no '${key}' of ${k} values`);
          }
          upload(c.buffer, Float32Array.from(v.data as Float32Array));
        }
      },
      dispose() {
        studentVit.dispose();
        teacherHead.dispose();
        studentHead.dispose();
        dinoCenter.dispose();
        ibotCenter.dispose();
      },
    };
  },
};

export default plugin;
