// Parity handlers of the SSL losses (group `losses`): each maps a case's inputs to the
// method's loss function and returns every output; gradients flow through the ops' own
// backward functions.
import { collect, gpuInputs, type Handler } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import { type Tensor, tidy } from "../../../core/mod.ts";
import { linear } from "../../../kernels/mod.ts";
import { ntxent } from "../../../methods/simclr/loss.ts";
import { dinoLoss } from "../../../methods/dino/loss.ts";
import {
  type Dinov2Centering,
  dinov2DinoLoss,
  dinov2IbotLoss,
  dinov2Loss,
  koleoLoss,
} from "../../../methods/dinov2/loss.ts";
import { distillationV3Loss } from "../../../methods/distillation/loss.ts";
import { distillationV1Loss } from "../../../methods/distillationv1/loss.ts";
import { distillationV2Loss, linearChannelsLast } from "../../../methods/distillationv2/loss.ts";

function num(c: RefCase, key: string, fallback?: number): number {
  const v = c.parameters[key];
  if (typeof v === "number") return v;
  if (fallback === undefined) throw new Error(`${c.name}: parameter '${key}' is missing`);
  return fallback;
}

/** The input `name`; throws naming the case when it is missing. */
function need(c: RefCase, i: Record<string, Tensor>, name: string): Tensor {
  const t = i[name];
  if (!t) throw new Error(`${c.name}: input '${name}' is missing`);
  return t;
}

/** DINOv2 centering options from the case parameters (and its `center` input, if any). */
function centering(c: RefCase, i: Record<string, Tensor>) {
  const mode = c.parameters.centering as Dinov2Centering;
  return {
    teacherTemp: num(c, "teacher_temp"),
    studentTemp: num(c, "student_temp"),
    centering: mode,
    center: mode === "softmax" ? need(c, i, "center") : undefined,
    centerMomentum: num(c, "center_momentum", 0.9),
    sinkhornIterations: num(c, "sinkhorn_iterations", 3),
  };
}

/** Adds `center_new` to the outputs when the loss returned one. */
function withCenter(out: Record<string, Tensor>, center: Tensor | null): Record<string, Tensor> {
  if (center) out.center_new = center;
  return out;
}

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  ntxent: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      ntxent(need(c, i, "out0"), need(c, i, "out1"), { temperature: num(c, "temperature") })
    );
    return collect(c, i, {
      loss: r.loss,
      loss_view0_anchors: r.lossView0,
      loss_view1_anchors: r.lossView1,
    });
  },
  dino_loss: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      dinoLoss(need(c, i, "teacher_out"), need(c, i, "student_out"), need(c, i, "center"), {
        teacherTemp: num(c, "teacher_temp"),
        studentTemp: num(c, "student_temp"),
        centerMomentum: num(c, "center_momentum"),
      })
    );
    return collect(c, i, {
      loss: r.loss,
      center_new: r.centerNew,
      teacher_probs: r.teacherProbs,
    });
  },
  dinov2_dino_loss: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      dinov2DinoLoss(
        need(c, i, "student_cls_global"),
        need(c, i, "student_cls_local"),
        need(c, i, "teacher_cls"),
        { ...centering(c, i), nGlobal: num(c, "n_global_crops", 2) },
      )
    );
    return collect(
      c,
      i,
      withCenter({
        loss_global: r.lossGlobal,
        loss_local: r.lossLocal,
        teacher_probs: r.teacherProbs,
      }, r.centerNew),
    );
  },
  dinov2_ibot_loss: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      dinov2IbotLoss(
        need(c, i, "student_patch_masked"),
        need(c, i, "teacher_patch_masked"),
        need(c, i, "masks"),
        centering(c, i),
      )
    );
    return collect(
      c,
      i,
      withCenter({
        loss: r.loss,
        teacher_probs: r.teacherProbs,
        masks_weight: r.masksWeight,
      }, r.centerNew),
    );
  },
  koleo_loss: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      koleoLoss(need(c, i, "student_cls_before_head"), {
        chunks: num(c, "n_chunks", 1),
        eps: num(c, "eps", 1e-8),
      })
    );
    return collect(c, i, { loss: r.loss, nn_index: r.nnIndex });
  },
  dinov2_total_loss: (c) => {
    const i = gpuInputs(c);
    const { center: _c, ...opts } = centering(c, i);
    const r = tidy(() =>
      dinov2Loss({
        studentClsGlobal: need(c, i, "student_cls_global"),
        studentClsLocal: need(c, i, "student_cls_local"),
        teacherCls: need(c, i, "teacher_cls"),
        studentPatchMasked: need(c, i, "student_patch_masked"),
        teacherPatchMasked: need(c, i, "teacher_patch_masked"),
        masks: need(c, i, "masks"),
        studentClsBeforeHead: need(c, i, "student_cls_before_head"),
      }, {
        ...opts,
        nGlobal: num(c, "n_global_crops", 2),
        dinoLossWeight: num(c, "dino_loss_weight"),
        ibotLossWeight: num(c, "ibot_loss_weight"),
        koleoLossWeight: num(c, "koleo_loss_weight"),
      })
    );
    const informational = [r.dinoTeacherProbs, r.ibotTeacherProbs, r.masksWeight, r.nnIndex];
    for (const t of informational) t.dispose();
    return collect(c, i, {
      loss: r.loss,
      dino_global_loss: r.dinoGlobalLoss,
      dino_local_loss: r.dinoLocalLoss,
      ibot_loss: r.ibotLoss,
      koleo_loss: r.koleoLoss,
    });
  },
  distillation_v1: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      distillationV1Loss(
        linear(need(c, i, "student_embedding"), need(c, i, "head.weight"), need(c, i, "head.bias")),
        need(c, i, "teacher_embedding"),
        need(c, i, "queue"),
        { temperature: num(c, "temperature") },
      )
    );
    return collect(c, i, { loss: r.loss, queue_new: r.queueNew });
  },
  distillation_v2: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() => {
      const s = linearChannelsLast(
        need(c, i, "student_features"),
        need(c, i, "head.weight"),
        need(c, i, "head.bias"),
      );
      const n = num(c, "n_teacher_blocks");
      const maps = Array.from({ length: n }, (_, k) => need(c, i, `teacher_block_-${n - k}`));
      return distillationV2Loss(s, maps);
    });
    r.teacherTokens.dispose();
    return collect(c, i, { loss: r.loss, student_projected: r.studentTokens });
  },
  distillation_v3: (c) => {
    const i = gpuInputs(c);
    const r = tidy(() =>
      distillationV3Loss({
        teacherGlobal: need(c, i, "teacher_global"),
        teacherLocal: need(c, i, "teacher_local"),
        studentGlobal: need(c, i, "student_global"),
        studentLocal: need(c, i, "student_local"),
        queue: need(c, i, "queue"),
      }, {
        temperatureGlobal: num(c, "temperature_global"),
        temperatureLocal: num(c, "temperature_local"),
        localWeight: num(c, "loss_local_weight"),
      })
    );
    return collect(c, i, {
      loss: r.loss,
      global_loss: r.globalLoss,
      local_loss: r.localLoss,
      queue_new: r.queueNew,
    });
  },
};
