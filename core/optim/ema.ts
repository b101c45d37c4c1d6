/**
 * `emaUpdate`: the teacher's exponential moving average of the student's parameters
 * (lightly-train `update_momentum`), in place on the GPU, one kernel per tensor.
 *
 * @module
 */
import src from "./ema.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { fmtShape, type Tensor } from "../tensor.ts";
import { GpuError } from "../device.ts";

const WG = 256;

/** `teacher[i] ← m·teacher[i] + (1−m)·student[i]` for each pair of tensors, in place. */
export function emaUpdate(
  teacherParams: readonly Tensor[],
  studentParams: readonly Tensor[],
  m: number,
): void {
  if (teacherParams.length !== studentParams.length) {
    throw new GpuError(
      `emaUpdate: ${teacherParams.length} teacher tensors, ${studentParams.length} student tensors`,
    );
  }
  teacherParams.forEach((t, i) => {
    const s = studentParams[i];
    if (t.size !== s.size || t.shape.length !== s.shape.length) {
      throw new GpuError(
        `emaUpdate: teacher ${fmtShape(t.shape)} and student ${
          fmtShape(s.shape)
        } differ (tensor ${i})`,
      );
    }
    if (t.buffer === s.buffer) throw new GpuError(`emaUpdate: tensor ${i} is its own teacher`);
  });
  const k = kernel({ name: "ema_update", code: src, constants: { WG } });
  teacherParams.forEach((t, i) => {
    k.dispatch(
      [t, studentParams[i]],
      [Math.ceil(t.size / 4), f32(m), f32(1 - m), 0],
      grid(Math.ceil(t.size / 4 / WG)),
    );
  });
}

/** Plain-TS reference on host arrays (float64), updating `teacher` in place. */
export function emaUpdateRef(teacher: Float64Array, student: ArrayLike<number>, m: number): void {
  for (let i = 0; i < teacher.length; i++) teacher[i] = teacher[i] * m + student[i] * (1 - m);
}
