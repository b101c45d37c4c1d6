/**
 * Times conv2d forward + backward (input, weight and bias gradients) at a ResNet stage-1 size:
 * batch 32, 64 -> 64 channels, 3x3, stride 1, pad 1, 56x56. Each phase is warmed up once, then
 * queued `iters` times and timed up to one readback at the end. Not a test.
 *
 * `deno run -A bench/conv_bench.ts [iters=3] [batch=32]`; `bench/main.ts` calls
 * {@link benchConv} and stores its result under `conv2d`.
 *
 * Besides wall time it reports the process CPU time divided by LP_NUM_THREADS ("cpu"): on a
 * software adapter that shares its cores with other work, that is the steadier number.
 *
 * @module
 */
import process from "node:process";
import { initDevice } from "../core/device.ts";
import { sync } from "../core/engine.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import { randomData } from "../core/testing.ts";
import {
  conv2dBackwardBiasRaw,
  conv2dBackwardInputRaw,
  conv2dBackwardWeightRaw,
  conv2dRaw,
} from "../kernels/conv2d.ts";

/** Options of {@link benchConv}. */
export interface ConvBenchOptions {
  /** Timed repetitions of each phase (after one warm-up); default 3. */
  iters?: number;
  /** Batch size; default 32. */
  batch?: number;
  /** Channels in and out; default 64. */
  channels?: number;
  /** Height and width; default 56. */
  size?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** One phase of {@link ConvBenchResult}. */
export interface ConvPhase {
  /** Wall milliseconds per pass. */
  ms: number;
  /** Process CPU milliseconds per pass divided by the lavapipe thread count. */
  cpuMs: number;
  /** GFLOP/s of the pass (2·N·C·H·W·C·K·K flop) over wall time. */
  gflops: number;
}

/** What {@link benchConv} measures. */
export interface ConvBenchResult {
  /** The shape, in words. */
  what: string;
  /** Timed repetitions of each phase. */
  iters: number;
  /** Forward (`conv2dRaw` with bias). */
  forward: ConvPhase;
  /** Input gradient. */
  gradInput: ConvPhase;
  /** Weight + bias gradients. */
  gradWeight: ConvPhase;
  /** The three together. */
  total: ConvPhase;
}

/** Runs the conv2d benchmark on the current device (initialized if needed). */
export async function benchConv(opts: ConvBenchOptions = {}): Promise<ConvBenchResult> {
  const iters = opts.iters ?? 3, N = opts.batch ?? 32, C = opts.channels ?? 64;
  const H = opts.size ?? 56, W = H, K = 3;
  const log = opts.log ?? (() => {});
  const conv = { stride: 1, padding: 1 };
  await initDevice();
  const x = tensor(randomData(N * C * H * W, 1), [N, C, H, W]);
  const w = tensor(randomData(C * C * K * K, 2).map((v) => v * 0.05), [C, C, K, K]);
  const b = tensor(randomData(C, 3), [C]);
  const gy = tensor(randomData(N * C * H * W, 4), [N, C, H, W]);
  const threads = Number(Deno.env.get("LP_NUM_THREADS") ?? navigator.hardwareConcurrency);
  const flop = 2 * N * C * H * W * C * K * K; // one GEMM-sized pass

  async function time(name: string, fn: () => Tensor[]): Promise<ConvPhase> {
    for (const t of fn()) t.dispose(); // warm-up: pipelines compiled, buffers pooled
    await sync();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let last: Tensor[] = [];
    for (let i = 0; i < iters; i++) {
      for (const t of last) t.dispose();
      last = fn();
    }
    await last[0].data(); // the readback waits for all queued work
    const ms = (performance.now() - t0) / iters;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / threads / iters;
    for (const t of last) t.dispose();
    log(
      `${name.padEnd(10)} ${ms.toFixed(1).padStart(8)} ms   cpu ${cpuMs.toFixed(1).padStart(8)} ms`,
    );
    return { ms: round(ms), cpuMs: round(cpuMs), gflops: round(flop / ms / 1e6) };
  }

  try {
    const what = `conv2d ${N}x${C}x${H}x${W} -> ${C}, ${K}x${K}, stride 1, pad 1`;
    log(what);
    const forward = await time("forward", () => [conv2dRaw(x, w, b, conv)]);
    const gradInput = await time("grad x", () => [conv2dBackwardInputRaw(gy, w, x.shape, conv)]);
    const gradWeight = await time("grad w+b", () => [
      conv2dBackwardWeightRaw(gy, x, w.shape, conv),
      conv2dBackwardBiasRaw(gy),
    ]);
    const ms = forward.ms + gradInput.ms + gradWeight.ms;
    const cpuMs = forward.cpuMs + gradInput.cpuMs + gradWeight.cpuMs;
    const total = { ms: round(ms), cpuMs: round(cpuMs), gflops: round(3 * flop / ms / 1e6) };
    log(`fwd+bwd    ${ms.toFixed(1).padStart(8)} ms wall  ${total.gflops} GFLOP/s`);
    return { what, iters, forward, gradInput, gradWeight, total };
  } finally {
    for (const t of [x, w, b, gy]) t.dispose();
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

if (import.meta.main) {
  const r = await benchConv({
    iters: Number(Deno.args[0] ?? 3),
    batch: Number(Deno.args[1] ?? 32),
    log: console.log,
  });
  console.log(
    `fwd+bwd    ${r.total.cpuMs.toFixed(1).padStart(8)} ms cpu   ${
      (r.total.gflops * r.total.ms / r.total.cpuMs).toFixed(1)
    } GFLOP/s`,
  );
}
