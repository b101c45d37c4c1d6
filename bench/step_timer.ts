/**
 * Times a GPU step (a model forward, a forward + backward, a training step) the way every
 * section of `deno task bench` does: warm-up first, then `n` steps queued back to back and one
 * readback of the last step's output at the end (never one per step). The warm-up compiles the
 * pipelines at a small batch and doubles it until a step takes an eighth of the cap (a second at
 * least); that step scaled to the requested batch estimates the full step (an upper bound). Then
 * one warm-up step at the batch to time and as many steps as fit a time target. A step estimated
 * over a quarter of the cap (default 60 s) is timed once after one warm-up step at its batch
 * (the first step at a new batch allocates its buffers and textures, which a steady training
 * run does once; on lavapipe that first step of ViT-Tiny at batch 128 took 54 s against 31 s
 * for the next); one estimated
 * over the cap is timed once at the largest power-of-two batch under it (unless `fullBatch`);
 * the result says so. Peak GPU memory comes from the buffer pool's high-water mark.
 *
 * @module
 */
import process from "node:process";
import { pool, sync } from "../core/engine.ts";
import type { Tensor } from "../core/tensor.ts";
import { texturePoolStats } from "../kernels/matmul_tex.ts";

/** A step bound to inputs of one batch size. */
export interface Stepper {
  /** Queues one step; returns a tensor to read back (the caller disposes it). */
  step(): Tensor;
  /** Frees the inputs. */
  dispose(): void;
}

/** Options of {@link timeSteps}. */
export interface TimeOptions {
  /** Seconds of timed steps to aim for (default 6). */
  targetSeconds?: number;
  /** Most timed steps (default 20). */
  maxSteps?: number;
  /**
   * Longest step to time, in seconds (default 60). When the requested batch is estimated above
   * it, one step is timed at the largest power-of-two batch estimated under it (or, with
   * `fullBatch`, one step at the requested batch); the result says so.
   */
  capSeconds?: number;
  /** Time the requested batch even when it is estimated over `capSeconds` (one step). */
  fullBatch?: boolean;
  /**
   * Batch of the first warm-up steps (default 4); it doubles until a step takes an eighth of the
   * cap (1 s at least).
   */
  probeBatch?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The result of {@link timeSteps}. */
export interface StepTiming {
  /** Batch of the timed steps. */
  batch: number;
  /** The batch asked for (larger than `batch` when the step was estimated over the cap). */
  batch_requested: number;
  /** Steps timed (up to one readback at the end). */
  steps: number;
  /** Wall milliseconds per step. */
  ms_per_step: number;
  /** Batch images per wall second. */
  images_per_s: number;
  /** Process CPU milliseconds per step (all threads: JS and lavapipe's workers). */
  cpu_ms_per_step: number;
  /** Images per second of process CPU time: steadier than wall time on shared cores. */
  images_per_cpu_s: number;
  /** How the pipelines were warmed up and the step estimated. */
  warmup: string;
  /**
   * True when the step (estimated over a quarter of the cap) was timed once (after one warm-up
   * step at its batch) rather than averaged over several.
   */
  single_step: boolean;
  /** Estimated seconds of one step at the requested batch (from the warm-up). */
  estimated_full_step_s: number;
  /** Bytes held by live tensors before the timed steps (weights, optimizer state, inputs). */
  base_live_bytes: number;
  /** Peak bytes held by live tensors during the timed steps (buffer pool high-water mark). */
  peak_live_bytes: number;
  /** `peak_live_bytes - base_live_bytes`: activations, gradients and temporaries of a step. */
  step_peak_bytes: number;
  /** Bytes the pool holds after the steps, live and free (what the device keeps allocated). */
  pool_bytes: number;
  /** Bytes of the matmul texture cache after the steps (live and free). */
  texture_bytes: number;
}

/** Times steps of `make(b)` for a requested batch `batch`; see the module doc. */
export async function timeSteps(
  batch: number,
  make: (batch: number) => Stepper,
  opts: TimeOptions = {},
): Promise<StepTiming> {
  const target = opts.targetSeconds ?? 6, maxSteps = opts.maxSteps ?? 20;
  const cap = opts.capSeconds ?? 60;
  const log = opts.log ?? (() => {});
  // Warm-up: compile at a small batch, then double it until a step takes an eighth of the cap;
  // the last probe gives the time per image (an overestimate where fixed costs remain).
  let b = Math.min(batch, opts.probeBatch ?? 4);
  const probes: [number, number][] = []; // [batch, ms]
  const probeMsMin = Math.max(1000, (cap * 1000) / 8);
  for (let first = true;; first = false) {
    const s = make(b);
    try {
      if (first) await readOnce(s);
      const t0 = performance.now();
      await readOnce(s);
      probes.push([b, performance.now() - t0]);
    } finally {
      s.dispose();
    }
    // The last probe long enough that the cost per image dominates (small batches carry large
    // fixed costs on a software adapter).
    if (b >= batch || probes.at(-1)![1] >= probeMsMin) break;
    b = Math.min(batch, b * 2);
  }
  const stepMs = stepModel(probes);
  const estimate = stepMs(batch) / 1000;
  let mb = batch;
  if (!opts.fullBatch && estimate > cap) {
    mb = Math.min(b, batch);
    while (mb * 2 < batch && stepMs(mb * 2) <= cap * 1000) mb *= 2;
  }
  const probeMs = probes.at(-1)![1];
  let warmup = `compiled at batch ${probes[0][0]}, probe steps (batch: ms) ` +
    probes.map(([pb, ms]) => `${pb}: ${ms.toFixed(0)}`).join(", ") +
    `; ${batch} estimated at ${estimate.toFixed(1)} s per step`;
  if (mb < batch) warmup += `, over ${cap} s: timed at batch ${mb}`;
  const full = make(mb);
  try {
    const estMb = stepMs(mb) / 1000;
    let single = false;
    let m: Measured;
    const stepsFor = (ms: number) =>
      Math.max(1, Math.min(maxSteps, Math.floor((target * 1000) / ms)));
    if (mb === b) {
      // The last probe ran this batch after the pipelines compiled: it was the warm-up.
      m = await measure(full, stepsFor(probeMs));
      warmup += `; the probe at ${b} was the warm-up`;
    } else if (estMb > cap / 4) {
      // Long steps: the probes compiled the pipelines; one step at this batch is timed as is.
      single = true;
      const first = await measure(full, 1);
      m = await measure(full, 1);
      warmup += `; over ${cap / 4} s: 1 warm-up step at ${mb} (${
        first.ms.toFixed(0)
      } ms), then one step timed`;
    } else {
      const first = await measure(full, 1);
      warmup += `; 1 warm-up step at ${mb} (${first.ms.toFixed(0)} ms)`;
      m = await measure(full, stepsFor(first.ms));
    }
    const tex = texturePoolStats();
    const r: StepTiming = {
      batch: mb,
      batch_requested: batch,
      steps: m.steps,
      ms_per_step: round(m.ms),
      images_per_s: round((mb * 1000) / m.ms),
      cpu_ms_per_step: round(m.cpuMs),
      images_per_cpu_s: round((mb * 1000) / m.cpuMs),
      warmup,
      single_step: single,
      estimated_full_step_s: round(estimate),
      base_live_bytes: m.base,
      peak_live_bytes: m.peak,
      step_peak_bytes: m.peak - m.base,
      pool_bytes: m.poolBytes,
      texture_bytes: tex.liveBytes + tex.freeBytes,
    };
    log(
      `  ${m.steps} step(s) of ${mb}${mb < batch ? ` (asked ${batch})` : ""}: ` +
        `${r.ms_per_step.toFixed(0)} ms/step, ${r.images_per_s} img/s ` +
        `(${r.images_per_cpu_s} per CPU-s), peak ${mib(r.peak_live_bytes)} MiB`,
    );
    return r;
  } finally {
    full.dispose();
  }
}

interface Measured {
  steps: number;
  ms: number;
  cpuMs: number;
  base: number;
  peak: number;
  poolBytes: number;
}

/** Queues `n` steps, reads the last output back once; wall and CPU time per step, peak memory. */
async function measure(s: Stepper, n: number): Promise<Measured> {
  await sync();
  const base = pool.stats().liveBytes;
  pool.resetPeak();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let last: Tensor | null = null;
  for (let i = 0; i < n; i++) {
    last?.dispose();
    last = s.step();
  }
  await last!.data();
  const ms = (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  last!.dispose();
  const st = pool.stats();
  return {
    steps: n,
    ms,
    cpuMs: (c.user + c.system) / 1000 / n,
    base,
    peak: st.peakLiveBytes,
    poolBytes: st.liveBytes + st.freeBytes,
  };
}

/**
 * Step time as a function of the batch: the last probe scaled by the batch. An upper bound
 * where a step has fixed costs (it does: small batches run slower per image), so a step chosen
 * under the cap stays under it.
 */
function stepModel(probes: [number, number][]): (b: number) => number {
  const [b1, t1] = probes.at(-1)!;
  return (b) => (t1 * b) / b1;
}

async function readOnce(s: Stepper): Promise<void> {
  const t = s.step();
  await t.data();
  t.dispose();
}

/** Rounds to 2 decimals (3 significant digits below 1). */
export function round(v: number): number {
  return Math.abs(v) >= 1 ? Math.round(v * 100) / 100 : Number(v.toPrecision(3));
}

/** Bytes in MiB, one decimal. */
export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
