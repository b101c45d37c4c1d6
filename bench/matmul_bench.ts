/**
 * Times Sinter's matmul kernels on square products: each kernel is queued `iters` times and
 * timed up to one small readback at the end (never one per iteration). Reports wall-clock
 * GFLOP/s and GFLOP per CPU-second of the whole process (steadier on a software adapter whose
 * cores are shared with other work).
 *
 * `deno run -A bench/matmul_bench.ts [sizes=256,512,1024] [kernels=direct,tiled,tex]`
 *
 * @module
 */
import process from "node:process";
import { initDevice } from "../core/device.ts";
import { readBuffer, sync } from "../core/engine.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import { randomData } from "../core/testing.ts";
import { matmulRawWith } from "../kernels/matmul.ts";
import { MATMUL_KERNELS, type MatmulKernel, selectMatmul } from "../kernels/matmul_select.ts";

/** One timed measurement. */
export interface Timing {
  /** GFLOP/s over wall-clock time. */
  gflops: number;
  /** GFLOP per CPU-second of this process (all threads). */
  gflopsPerCpuSecond: number;
  /** Iterations timed. */
  iters: number;
  /** Wall-clock seconds of the timed iterations. */
  seconds: number;
}

/** CPU seconds this process has used so far (user + system, all threads). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `step` (which queues GPU work and returns the tensors it made) once to warm up, then
 * `iters` times, and waits for the GPU with one 4-byte readback of the last output.
 */
export async function timeGpu(
  flopPerIter: number,
  iters: number,
  step: () => Tensor,
): Promise<Timing> {
  step().dispose();
  await sync();
  const c0 = cpuSeconds(), t0 = performance.now();
  let last: Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    last?.dispose();
    last = step();
  }
  await readBuffer(last!.buffer, 4);
  const seconds = (performance.now() - t0) / 1000, cpu = cpuSeconds() - c0;
  last!.dispose();
  return {
    gflops: flopPerIter * iters / seconds / 1e9,
    gflopsPerCpuSecond: flopPerIter * iters / cpu / 1e9,
    iters,
    seconds,
  };
}

/** Iterations so that one measurement takes about `targetSeconds` at `gflops`. */
export function itersFor(flop: number, gflops: number, targetSeconds: number, max = 50): number {
  return Math.max(1, Math.min(max, Math.round(targetSeconds * gflops * 1e9 / flop)));
}

/** Result of one kernel at one size (null timing: skipped, with the reason). */
export interface KernelResult {
  /** The kernel. */
  kernel: MatmulKernel;
  /** The timing, or null when skipped. */
  timing: Timing | null;
  /** Why it was skipped. */
  skipped?: string;
}

/**
 * Times every kernel in `kernels` on an `n x n @ n x n` product, best of `sets` timed sets of
 * about `targetSeconds` together. The speed at the previous size (or a one-product calibration)
 * predicts the time per product; a kernel predicted above `maxIterSeconds` is skipped.
 */
export async function benchSquare(
  n: number,
  kernels: readonly MatmulKernel[] = MATMUL_KERNELS,
  opts: {
    targetSeconds?: number;
    maxIterSeconds?: number;
    sets?: number;
    estimate?: Map<MatmulKernel, number>;
  } = {},
): Promise<KernelResult[]> {
  const a = tensor(randomData(n * n, 1), [n, n]);
  const b = tensor(randomData(n * n, 2), [n, n]);
  const flop = 2 * n ** 3;
  const out: KernelResult[] = [];
  try {
    for (const k of kernels) {
      const step = () => matmulRawWith(k, a, b);
      let guess = opts.estimate?.get(k);
      if (!guess) guess = (await timeGpu(flop, 1, step)).gflops; // calibration (+ warm-up)
      const predicted = flop / (guess * 1e9);
      if (predicted > (opts.maxIterSeconds ?? 20)) {
        out.push({
          kernel: k,
          timing: null,
          skipped: `predicted ${predicted.toFixed(0)} s per product at ${guess.toFixed(2)} GFLOP/s`,
        });
        continue;
      }
      const iters = itersFor(flop, guess, (opts.targetSeconds ?? 1.5) / (opts.sets ?? 2));
      let best: Timing | null = null;
      for (let s = 0; s < (opts.sets ?? 2); s++) {
        const t = await timeGpu(flop, iters, step);
        if (!best || t.gflops > best.gflops) best = t;
        if (predicted * iters > 2) break; // slow kernel: one set is enough
      }
      opts.estimate?.set(k, best!.gflops);
      out.push({ kernel: k, timing: best });
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  return out;
}

if (import.meta.main) {
  const sizes = (Deno.args[0] ?? "256,512,1024").split(",").map(Number);
  const kernels = (Deno.args[1]?.split(",") ?? MATMUL_KERNELS) as MatmulKernel[];
  const dev = await initDevice();
  console.log(`matmul on ${dev.report.description}`);
  const estimate = new Map<MatmulKernel, number>();
  for (const n of sizes) {
    const d = { batch: [], m: n, n, k: n, aBatched: false, bBatched: false };
    for (const r of await benchSquare(n, kernels, { estimate })) {
      const t = r.timing;
      console.log(
        `${String(n).padStart(5)} ${r.kernel.padEnd(7)} ` +
          (t
            ? `${t.gflops.toFixed(2).padStart(7)} GFLOP/s ${
              t.gflopsPerCpuSecond.toFixed(2).padStart(7)
            } GFLOP/cpu-s (${t.iters} iters, ${t.seconds.toFixed(2)} s)`
            : `skipped: ${r.skipped}`),
      );
    }
    console.log(`${String(n).padStart(5)} table picks ${selectMatmul(d)}`);
  }
}
