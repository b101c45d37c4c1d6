// Parity handlers: optimizer steps, gradient clipping, schedules, EMA (see tests/parity/registry.ts).
import { gpu, type Handler, type HandlerResult } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import {
  AdamW,
  clipCoef,
  clipGradNorm,
  cosineSchedule,
  cosineWarmupSchedule,
  dinoTeacherTempSchedule,
  emaUpdate,
  LARS,
  linearWarmupSchedule,
  type Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  SGD,
  type Tensor,
} from "../../../core/mod.ts";

type Params = Record<string, unknown>;

/** Parameters named in the case (inputs with role `parameter`), each with its `.grad`. */
function paramsOf(c: RefCase, names?: string[]): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const list = names ?? Object.keys(c.inputs).filter((k) => c.inputs[k].role === "parameter");
  for (const k of list) {
    const p = gpu(c.inputs[k], false);
    const g = c.inputs[`${k}.grad`];
    if (g) p.grad = gpu(g, false);
    out.set(k, p);
  }
  return out;
}

/** Loads the case's state inputs (`<param>.<slot>`) into the optimizer with `step`. */
function loadState<G extends ParamGroup>(
  c: RefCase,
  opt: Optimizer<G>,
  names: string[],
  slots: string[],
  step: number,
): void {
  const sd: OptimizerStateDict = {
    kind: opt.kind,
    groups: opt.groups.map(({ params: _p, ...h }) => h),
    state: names.map((n) => {
      const buffers: Record<string, Float32Array> = {};
      for (const s of slots) {
        const t = c.inputs[`${n}.${s}`];
        if (t) buffers[s] = t.data as Float32Array;
      }
      return { step, buffers };
    }),
  };
  opt.loadStateDict(sd);
}

/** Steps once and reads back every parameter and state slot by the case's output names. */
async function stepAndRead<G extends ParamGroup>(
  c: RefCase,
  opt: Optimizer<G>,
  params: Map<string, Tensor>,
): Promise<HandlerResult> {
  opt.step();
  const sd = await opt.stateDict();
  const res: HandlerResult = {};
  const names = [...params.keys()];
  for (const [n, p] of params) res[n] = await p.data();
  names.forEach((n, i) => {
    for (const [slot, data] of Object.entries(sd.state[i].buffers)) res[`${n}.${slot}`] = data;
  });
  opt.dispose();
  for (const p of params.values()) p.dispose();
  for (const k of Object.keys(res)) if (!(k in c.outputs)) delete res[k];
  return res;
}

function num(p: Params, k: string): number {
  const v = p[k];
  if (typeof v !== "number") throw new Error(`parameter '${k}' missing or not a number`);
  return v;
}

function steps(p: Params): number[] {
  return p.steps as number[];
}

function values(vs: number[]): HandlerResult {
  return { values: Float64Array.from(vs) };
}

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  adamw_step: (c) => {
    const p = c.parameters;
    const params = paramsOf(c);
    const names = [...params.keys()];
    const opt = new AdamW([...params.values()], {
      lr: num(p, "lr"),
      betas: [num(p, "beta1"), num(p, "beta2")],
      eps: num(p, "eps"),
      weightDecay: num(p, "weight_decay"),
    });
    if (p.amsgrad) throw new Error("amsgrad is not supported");
    loadState(c, opt, names, ["exp_avg", "exp_avg_sq"], num(p, "step"));
    return stepAndRead(c, opt, params);
  },
  sgd_step: (c) => {
    const p = c.parameters;
    const params = paramsOf(c);
    const names = [...params.keys()];
    const opt = new SGD([...params.values()], {
      lr: num(p, "lr"),
      momentum: num(p, "momentum"),
      dampening: num(p, "dampening"),
      weightDecay: num(p, "weight_decay"),
      nesterov: p.nesterov === true,
    });
    if (!p.first_step) loadState(c, opt, names, ["momentum_buffer"], 1);
    return stepAndRead(c, opt, params);
  },
  lars_step: (c) => {
    const p = c.parameters;
    const groups = p.groups as { params: string[]; weight_decay: number }[];
    const names = groups.flatMap((g) => g.params);
    const params = paramsOf(c, names);
    const opt = new LARS(
      groups.map((g) => ({
        params: g.params.map((n) => params.get(n)!),
        weightDecay: g.weight_decay,
      })),
      {
        lr: num(p, "lr"),
        momentum: num(p, "momentum"),
        dampening: num(p, "dampening"),
        nesterov: p.nesterov === true,
        trustCoefficient: num(p, "trust_coefficient"),
        eps: num(p, "eps"),
      },
    );
    if (!p.first_step) loadState(c, opt, names, ["momentum_buffer"], 1);
    return stepAndRead(c, opt, params);
  },
  clip_grad_norm: async (c) => {
    const p = c.parameters;
    if (p.norm_type !== 2) throw new Error(`norm_type ${p.norm_type} is not supported`);
    const gradNames = Object.keys(c.inputs).filter((k) => k.endsWith(".grad"));
    const params = gradNames.map((k) => {
      const t = gpu(c.inputs[k], false);
      const holder = gpu({ ...c.inputs[k], data: new Float32Array(t.size) }, false);
      holder.grad = t;
      return holder;
    });
    const total = clipGradNorm(params, num(p, "max_norm"), num(p, "eps"));
    const res: HandlerResult = {};
    for (let i = 0; i < params.length; i++) res[gradNames[i]] = await params[i].grad!.data();
    const tn = await total.item();
    res.total_norm = [tn];
    res.clip_coef = [Math.fround(clipCoef(Math.fround(tn), num(p, "max_norm"), num(p, "eps")))];
    total.dispose();
    for (const t of params) t.dispose();
    return res;
  },
  cosine_schedule: (c) => {
    const p = c.parameters;
    return Promise.resolve(
      values(
        steps(p).map((s) =>
          cosineSchedule(s, num(p, "max_steps"), num(p, "start_value"), num(p, "end_value"))
        ),
      ),
    );
  },
  cosine_warmup_schedule: (c) => {
    const p = c.parameters;
    return Promise.resolve(values(
      steps(p).map((s) =>
        cosineWarmupSchedule(
          s,
          num(p, "max_steps"),
          num(p, "start_value"),
          num(p, "end_value"),
          num(p, "warmup_steps"),
          num(p, "warmup_start_value"),
          (p.warmup_end_value as number | null) ?? null,
        )
      ),
    ));
  },
  linear_warmup_schedule: (c) => {
    const p = c.parameters;
    return Promise.resolve(
      values(
        steps(p).map((s) =>
          linearWarmupSchedule(
            s,
            num(p, "warmup_steps"),
            num(p, "start_value"),
            num(p, "end_value"),
          )
        ),
      ),
    );
  },
  dino_teacher_temp_schedule: (c) => {
    const p = c.parameters;
    return Promise.resolve(
      values(
        steps(p).map((s) =>
          dinoTeacherTempSchedule(s, num(p, "warmup_steps"), num(p, "warmup_temp"), num(p, "temp"))
        ),
      ),
    );
  },
  ema_update: async (c) => {
    const p = c.parameters;
    const m = cosineSchedule(
      num(p, "step"),
      num(p, "max_steps"),
      num(p, "momentum_start"),
      num(p, "momentum_end"),
    );
    const names = Object.keys(c.outputs).filter((k) => k.startsWith("teacher."));
    const teacher = names.map((k) => gpu(c.inputs[k], false));
    const student = names.map((k) => gpu(c.inputs[`student.${k.slice(8)}`], false));
    emaUpdate(teacher, student, m);
    const res: HandlerResult = { momentum: [m] };
    for (let i = 0; i < names.length; i++) res[names[i]] = await teacher[i].data();
    for (const t of [...teacher, ...student]) t.dispose();
    return res;
  },
};
