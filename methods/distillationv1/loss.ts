/**
 * Distillation v1 (lightly-train `distillationv1`, `distillation_loss.py`) as autograd ops:
 * the student's projected embedding and the teacher's embedding are L2-normalized, the queue
 * of past teacher embeddings is updated with this batch **before** the loss, and the loss is
 * `KL(softmax(t·Qᵀ/τ) ‖ softmax(s·Qᵀ/τ))` with batch-mean reduction (τ = 0.07).
 *
 * The queue update and the KL are shared with distillation v3 (`../distillation/loss.ts`).
 *
 * @module
 */
import { fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { matmul } from "../../kernels/matmul.ts";
import { l2Normalize } from "../../kernels/normalize.ts";
import { klBatchmean, updateQueue } from "../distillation/loss.ts";

/** Options of {@link distillationV1Loss}. */
export interface DistillationV1Options {
  /** Softmax temperature (default 0.07). */
  temperature?: number;
}

/** What {@link distillationV1Loss} returns. */
export interface DistillationV1Result {
  /** The KL loss (scalar, differentiable with respect to the student). */
  loss: Tensor;
  /** The queue after this step, `[Q, D]` (a new tensor; the caller swaps it in). */
  queueNew: Tensor;
}

/**
 * Distillation v1 loss of `student [B, D]` (the student embedding after its Linear head, not
 * yet normalized), `teacher [B, D]` (the teacher embedding, a constant) and the queue
 * `[Q, D]` before this step (zeros at the start of training).
 */
export function distillationV1Loss(
  student: Tensor,
  teacher: Tensor,
  queue: Tensor,
  opts: DistillationV1Options = {},
): DistillationV1Result {
  const s = student.shape, t = teacher.shape;
  if (
    s.length !== 2 || t.length !== 2 || s[0] !== t[0] || s[1] !== t[1] ||
    queue.shape.length !== 2 || queue.shape[1] !== s[1]
  ) {
    throw new GpuError(
      `distillation_v1: need student and teacher [B, D] and queue [Q, D], got ${fmtShape(s)}, ` +
        `${fmtShape(t)}, ${fmtShape(queue.shape)}`,
    );
  }
  const temp = opts.temperature ?? 0.07;
  return tidy(() => {
    const tn = noGrad(() => l2Normalize(teacher, -1));
    const queueNew = updateQueue(queue, tn);
    const tq = noGrad(() => matmul(tn, queueNew, false, true));
    const sq = matmul(l2Normalize(student, -1), queueNew, false, true);
    return { loss: klBatchmean(sq, tq, temp), queueNew };
  });
}
