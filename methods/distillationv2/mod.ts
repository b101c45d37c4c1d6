/**
 * Distillation v2 (`method="distillationv2"`, LightlyTrain's default from 0.7 to 0.14): the
 * student's feature map, projected per position by {@link DistillationV2Head}, is resized to
 * the teacher's patch grid and regressed (MSE) onto the channel concatenation of the frozen
 * DINOv2 teacher's last `n_teacher_blocks` normed block outputs (`./loss.ts`). Mixup as v3.
 * LARS lr 9.0 (sqrt scaling, reference 1536), weight decay 1e-6, gradient clip 1.0.
 *
 * @module
 */
import { METHOD_API_VERSION, type MethodPlugin } from "../../core/plugin.ts";
import { decayGroups } from "../../core/method_run.ts";
import { noGrad } from "../../core/autograd.ts";
import type { Tensor } from "../../core/tensor.ts";
import { Rng } from "../../core/random.ts";
import { gelu, permute } from "../../kernels/mod.ts";
import { constInit, LayerNorm, Linear, normalInit } from "../../models/layers.ts";
import { Module } from "../../models/module.ts";
import type { IntermediateLayer, IntermediateOptions } from "../../models/dinov2.ts";
import { builtinTransforms } from "../../transforms/defaults.ts";
import { distillationV2Loss, linearChannelsLast } from "./loss.ts";
import { mixup } from "../distillation/mixup.ts";
import {
  checkTeacherArgs,
  DISTILLATION_RUN,
  distillationLars,
  loadTeacher,
} from "../distillation/teacher.ts";

/** Distillation v2's method arguments (LightlyTrain `DistillationV2Args`). */
export interface DistillationV2Args extends Record<string, unknown> {
  /** Last teacher blocks whose normed outputs are concatenated as the target. */
  n_teacher_blocks: number;
  /** Teacher model name (a DINOv2 ViT). */
  teacher: string;
  /** Deprecated; has no effect. */
  teacher_url: string | null;
  /** Safetensors file with the teacher's weights (required: nothing is downloaded). */
  teacher_weights: string | null;
  /** Layers of the student head (1: a single Linear). */
  n_projection_layers: number;
  /** Hidden width of the student head when `n_projection_layers > 1`. */
  projection_hidden_dim: number;
}

/**
 * LightlyTrain `DistillationV2Head`, applied channels-last to an NCHW map: one Linear, or
 * (Linear → LayerNorm → GELU) × (n−1) then a Linear. Weights `trunc_normal_(std=0.02)`,
 * biases 0. PyTorch names `mlp.{i}`.
 */
export class DistillationV2Head extends Module {
  readonly #layers: (Linear | LayerNorm | "gelu")[] = [];

  constructor(inDim: number, outDim: number, layers: number, hidden: number, seed: number) {
    super();
    if (!Number.isInteger(layers) || layers < 1) {
      throw new Error(`distillationv2: n_projection_layers must be >= 1, got ${layers}`);
    }
    const rng = new Rng(seed);
    const init = { rng, weightInit: normalInit(0.02, true), biasInit: constInit(0) };
    let idx = 0, dim = inDim;
    for (let l = 0; l < layers; l++) {
      const last = l === layers - 1;
      const out = last ? outDim : hidden;
      this.#layers.push(this.child(`mlp.${idx++}`, new Linear(dim, out, init)));
      if (!last) {
        this.#layers.push(this.child(`mlp.${idx++}`, new LayerNorm(out, 1e-5)));
        this.#layers.push("gelu");
        idx++;
      }
      dim = out;
    }
  }

  /** `[B, C, h, w]` → `[B, out, h, w]`. */
  forward(x: Tensor): Tensor {
    if (this.#layers.length === 1) {
      const l = this.#layers[0] as Linear;
      return linearChannelsLast(x, l.weight, l.bias);
    }
    let h = permute(x, [0, 2, 3, 1]);
    for (const l of this.#layers) h = l === "gelu" ? gelu(h) : l.forward(h);
    return permute(h, [0, 3, 1, 2]);
  }
}

interface IntermediateBackbone {
  getIntermediateLayers(
    x: Tensor,
    n: number,
    opts: IntermediateOptions,
  ): IntermediateLayer[];
  config: { depth: number };
}

const isDinov2 = (name: string) => name.startsWith("dinov2/");
const ACCEPT = { test: isDinov2, what: "DINOv2 ViT teachers (dinov2/*, see list_models)" };

/** The distillation v2 plugin. */
export const plugin: MethodPlugin<DistillationV2Args> = {
  apiVersion: METHOD_API_VERSION,
  name: "distillationv2",
  description: "Distillation v2: MSE of projected student features to a frozen DINOv2 teacher's " +
    "last blocks (dense tasks)",
  defaults: {
    methodArgs: {
      n_teacher_blocks: 2,
      teacher: "dinov2/vitb14-noreg",
      teacher_url: null,
      teacher_weights: null,
      n_projection_layers: 1,
      projection_hidden_dim: 2048,
    },
    optimizer: "lars",
    optimizerArgs: {
      lars: distillationLars(9.0),
    },
    ...DISTILLATION_RUN,
  },
  transforms: builtinTransforms("distillationv2") as unknown as Record<string, unknown>,
  validate({ args }) {
    checkTeacherArgs("distillationv2", args, ACCEPT);
  },
  async create(ctx) {
    const a = ctx.args;
    checkTeacherArgs("distillationv2", a, ACCEPT);
    if (!Number.isInteger(a.n_teacher_blocks) || a.n_teacher_blocks < 1) {
      throw new Error(
        `distillationv2: n_teacher_blocks must be a positive integer, got ${a.n_teacher_blocks}`,
      );
    }
    if (a.teacher_url !== null && a.teacher_url !== undefined) {
      console.warn(
        "distillationv2: teacher_url is deprecated and has no effect; use teacher_weights",
      );
    }
    const model = ctx.model;
    const teacher = await loadTeacher(ctx, "distillationv2", a);
    const backbone = teacher.getModel() as unknown as Partial<IntermediateBackbone>;
    if (typeof backbone.getIntermediateLayers !== "function" || !backbone.config) {
      teacher.getModel().dispose();
      throw new Error(
        `distillationv2: teacher '${a.teacher}' has no get_intermediate_layers; ${ACCEPT.what}`,
      );
    }
    const depth = backbone.config.depth;
    if (a.n_teacher_blocks > depth) {
      teacher.getModel().dispose();
      throw new Error(
        `distillationv2: n_teacher_blocks=${a.n_teacher_blocks} but teacher '${a.teacher}' has ` +
          `${depth} blocks`,
      );
    }
    const d = a.n_teacher_blocks * teacher.featureDim;
    const head = new DistillationV2Head(
      model.featureDim,
      d,
      a.n_projection_layers,
      a.projection_hidden_dim,
      Math.floor(ctx.rng.next() * 2 ** 31),
    );
    const tb = backbone as IntermediateBackbone;
    return {
      paramGroups: () =>
        decayGroups([
          ...model.getModel().namedParameters("backbone."),
          ...head.namedParameters("student_head."),
        ].filter(([, t]) => t.requiresGrad)),
      trainingStep(batch) {
        const x0 = batch.views[0];
        if (!x0) throw new Error("distillationv2 needs 1 view per image, got none");
        const x = mixup(x0, ctx.rng);
        const maps = noGrad(() =>
          tb.getIntermediateLayers(x, a.n_teacher_blocks, { reshape: true, norm: true })
            .map((l) => l.patches)
        );
        const td = maps.reduce((s, m) => s + m.shape[1], 0);
        if (td !== d) {
          throw new Error(
            `distillationv2: teacher '${a.teacher}' gave ${td} channels over ` +
              `${maps.length} blocks, but the student head projects to ${d}`,
          );
        }
        const student = head.forward(model.forwardFeatures(x).features);
        return { loss: distillationV2Loss(student, maps).loss };
      },
      exportModel: () => model,
      modules: () => ({ model: model.getModel(), student_head: head }),
      dispose() {
        head.dispose();
        teacher.getModel().dispose();
      },
    };
  },
};

export default plugin;
