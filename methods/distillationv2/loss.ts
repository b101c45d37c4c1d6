/**
 * Distillation v2 (lightly-train `distillationv2`, `distillationv2_loss.py`) as autograd ops:
 * the student's feature map, projected per position by the head (`linearChannelsLast` for the
 * default one-layer head), is resized bilinearly (align_corners=False) to the teacher's grid,
 * the teacher's target is the channel concatenation of its last blocks' maps, and the loss is
 * the mean squared error over all elements. No normalization.
 *
 * @module
 */
import { fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { square, sub } from "../../kernels/elementwise.ts";
import { interpolateBilinear } from "../../kernels/interpolate.ts";
import { concat, permute } from "../../kernels/layout.ts";
import { linear, reshapeOp } from "../../kernels/matmul.ts";
import { mean } from "../../kernels/reduce.ts";

/**
 * A Linear layer applied per position of an NCHW map (`x.permute(0,2,3,1) @ weightᵀ + bias`,
 * back to NCHW): `[B, C, H, W] → [B, out, H, W]`. The v2 head with `n_projection_layers=1`.
 */
export function linearChannelsLast(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (x.shape.length !== 4) {
    throw new GpuError(`linear_channels_last: input ${fmtShape(x.shape)} must be NCHW`);
  }
  return tidy(() => permute(linear(permute(x, [0, 2, 3, 1]), weight, bias), [0, 3, 1, 2]));
}

/** What {@link distillationV2Loss} returns. */
export interface DistillationV2Result {
  /** `mean((student − teacher)²)` (scalar, differentiable with respect to the student). */
  loss: Tensor;
  /** The student tokens `[B, Ht·Wt, D]` after the resize (row-major over h, then w). */
  studentTokens: Tensor;
  /** The teacher tokens `[B, Ht·Wt, D]` (concatenated blocks, no gradient). */
  teacherTokens: Tensor;
}

/**
 * Distillation v2 loss of the projected student map `student [B, D, h, w]` (head output,
 * NCHW, at the student's resolution) against the teacher block maps `teacherMaps`
 * (`[B, D_i, Ht, Wt]` each, oldest block first, `Σ D_i = D`; constants).
 */
export function distillationV2Loss(
  student: Tensor,
  teacherMaps: readonly Tensor[],
): DistillationV2Result {
  const op = "distillation_v2";
  if (student.shape.length !== 4 || teacherMaps.length === 0) {
    throw new GpuError(`${op}: need an NCHW student map and at least one teacher map`);
  }
  const [b, d] = student.shape;
  const [, , ht, wt] = teacherMaps[0].shape;
  const dt = teacherMaps.reduce((a, t) => a + t.shape[1], 0);
  for (const t of teacherMaps) {
    if (t.shape.length !== 4 || t.shape[0] !== b || t.shape[2] !== ht || t.shape[3] !== wt) {
      throw new GpuError(
        `${op}: teacher maps ${teacherMaps.map((m) => fmtShape(m.shape)).join(", ")} must be ` +
          `[${b}, D_i, H, W] with one grid`,
      );
    }
  }
  if (dt !== d) {
    throw new GpuError(`${op}: student has ${d} channels, the teacher maps ${dt}`);
  }
  return tidy(() => {
    const teacherTokens = noGrad(() => {
      const t = teacherMaps.length === 1 ? teacherMaps[0] : concat(teacherMaps, 1);
      return permute(t, [0, 2, 3, 1]).reshape([b, ht * wt, d]);
    });
    const resized = student.shape[2] === ht && student.shape[3] === wt
      ? student
      : interpolateBilinear(student, [ht, wt]);
    const studentTokens = reshapeOp(permute(resized, [0, 2, 3, 1]), [b, ht * wt, d]);
    const loss = mean(square(sub(studentTokens, teacherTokens)));
    return { loss, studentTokens, teacherTokens };
  });
}
