/**
 * DINO's loss (lightly `DINOLoss`, the same as facebookresearch/dino `DINOLoss`) as autograd
 * ops: the teacher's global-view outputs are centered and sharpened, `t = softmax((t_out −
 * center) / T_t)`, the student's views are `log_softmax(s_out / T_s)`, and the loss is the
 * mean cross-entropy over every (teacher view i, student view j) pair with `i != j`. The
 * center's EMA update (`mean` over views and batch, momentum 0.9) is returned, not applied.
 *
 * The pair sum needs no loop over pairs: `Σ_{i≠j} t_i·s_j = Σ_i t_i·(Σ_j s_j) − Σ_i t_i·s_i`.
 *
 * @module
 */
import { fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { add, mul, scale, sub } from "../../kernels/elementwise.ts";
import { slice } from "../../kernels/layout.ts";
import { mean, sum } from "../../kernels/reduce.ts";
import { logSoftmax, softmax } from "../../kernels/softmax.ts";

/** Options of {@link dinoLoss}. */
export interface DinoLossOptions {
  /** Teacher temperature of this step (scheduled: warmup to the final value). */
  teacherTemp: number;
  /** Student temperature (default 0.1). */
  studentTemp?: number;
  /** Momentum of the center EMA (default 0.9). */
  centerMomentum?: number;
}

/** What {@link dinoLoss} returns. */
export interface DinoLossResult {
  /** The loss (scalar, differentiable with respect to the student outputs). */
  loss: Tensor;
  /** `momentum·center + (1−momentum)·mean_{views,batch}(teacherOut)`, `[1, D]` (no gradient). */
  centerNew: Tensor;
  /** The centered, sharpened teacher distribution `[T, B, D]` (no gradient). */
  teacherProbs: Tensor;
}

/**
 * DINO loss of `teacherOut [T, B, D]` (teacher head outputs of the T global views, treated as
 * constants) and `studentOut [S, B, D]` (student head outputs, views `0..T-1` the same global
 * views in the same order, then the local views), with `center [1, D]` (this step's center).
 */
export function dinoLoss(
  teacherOut: Tensor,
  studentOut: Tensor,
  center: Tensor,
  opts: DinoLossOptions,
): DinoLossResult {
  const op = "dino_loss";
  if (teacherOut.shape.length !== 3 || studentOut.shape.length !== 3) {
    throw new GpuError(
      `${op}: outputs must be [views, B, D], got teacher ${fmtShape(teacherOut.shape)} and ` +
        `student ${fmtShape(studentOut.shape)}`,
    );
  }
  const [nt, b, d] = teacherOut.shape;
  const ns = studentOut.shape[0];
  if (studentOut.shape[1] !== b || studentOut.shape[2] !== d) {
    throw new GpuError(
      `${op}: student ${fmtShape(studentOut.shape)} does not match teacher ${
        fmtShape(teacherOut.shape)
      } in batch and dim`,
    );
  }
  if (center.size !== d) {
    throw new GpuError(`${op}: center ${fmtShape(center.shape)} must hold ${d} values`);
  }
  const tt = opts.teacherTemp, st = opts.studentTemp ?? 0.1, m = opts.centerMomentum ?? 0.9;
  if (!(tt > 0) || !(st > 0)) throw new GpuError(`${op}: temperatures must be > 0`);
  const nTerms = nt * ns - Math.min(nt, ns);
  if (nTerms === 0) throw new GpuError(`${op}: no (teacher, student) pair with different views`);
  return tidy(() => {
    const { teacherProbs, centerNew } = noGrad(() => ({
      teacherProbs: softmax(scale(sub(teacherOut, center.reshape([d])), 1 / tt), -1),
      centerNew: add(
        scale(center, m),
        scale(mean(teacherOut, [0, 1]).reshape(center.shape), 1 - m),
      ),
    }));
    const s = logSoftmax(scale(studentOut, 1 / st), -1);
    const all = sum(mul(teacherProbs, sum(s, 0)));
    const k = Math.min(nt, ns);
    const same = sum(
      mul(k === nt ? teacherProbs : slice(teacherProbs, 0, 0, k), slice(s, 0, 0, k)),
    );
    const loss = scale(sub(all, same), -1 / (nTerms * b));
    return { loss, centerNew, teacherProbs };
  });
}

// ---- plain-TS reference (tests) ----

/** Reference DINO loss on host data (float64): `[loss, centerNew]`. */
export function dinoLossRef(
  teacherOut: ArrayLike<number>,
  studentOut: ArrayLike<number>,
  center: ArrayLike<number>,
  shape: { t: number; s: number; b: number; d: number },
  teacherTemp: number,
  studentTemp = 0.1,
  momentum = 0.9,
): [number, Float64Array] {
  const { t, s, b, d } = shape;
  const softmaxRow = (x: number[], log: boolean) => {
    const mx = Math.max(...x);
    const lse = mx + Math.log(x.reduce((a, v) => a + Math.exp(v - mx), 0));
    return x.map((v) => (log ? v - lse : Math.exp(v - lse)));
  };
  const row = (src: ArrayLike<number>, v: number, i: number) =>
    Array.from({ length: d }, (_, k) => src[(v * b + i) * d + k]);
  let total = 0;
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < s; j++) {
      if (i === j) continue;
      for (let n = 0; n < b; n++) {
        const p = softmaxRow(
          row(teacherOut, i, n).map((v, k) => (v - center[k]) / teacherTemp),
          false,
        );
        const q = softmaxRow(row(studentOut, j, n).map((v) => v / studentTemp), true);
        total -= p.reduce((a, v, k) => a + v * q[k], 0);
      }
    }
  }
  const c = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    let acc = 0;
    for (let r = 0; r < t * b; r++) acc += teacherOut[r * d + k];
    c[k] = momentum * center[k] + (1 - momentum) * acc / (t * b);
  }
  return [total / ((t * s - Math.min(t, s)) * b), c];
}
