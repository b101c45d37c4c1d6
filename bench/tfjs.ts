/**
 * TF.js matmul baselines for the bench: the WebGPU backend on the same adapter as Sinter and the
 * WASM backend (its .wasm files loaded from the npm package). TF.js is a bench-only dependency;
 * nothing outside bench/ imports it.
 *
 * @module
 */
import { createRequire } from "node:module";
import process from "node:process";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

/** One TF.js measurement (null gflops: not run, with the reason). */
export interface TfjsResult {
  /** GFLOP/s (best of the timed sets), or null. */
  gflops: number | null;
  /** Why there is no number. */
  reason?: string;
  /** GFLOP per CPU-second of the process in the best set. */
  gflopsPerCpuSecond?: number;
  /** Iterations in a timed set. */
  iters?: number;
}

let wasmReady = false;

/** Selects a TF.js backend ("webgpu" or "wasm"); throws with the reason if it cannot start. */
export async function useBackend(name: "webgpu" | "wasm"): Promise<void> {
  if (name === "wasm" && !wasmReady) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
    setWasmPaths("file://" + file.replace(/[^/]+$/, ""));
    wasmReady = true;
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`);
  await tf.ready();
}

/** Facts about the active backend worth recording (threads, SIMD). */
export function backendInfo(): Record<string, unknown> {
  const env = tf.env();
  const info: Record<string, unknown> = { backend: tf.getBackend(), version: tf.version_core };
  if (tf.getBackend() === "wasm") {
    info.simd = env.getBool("WASM_HAS_SIMD_SUPPORT");
    info.multithread = env.getBool("WASM_HAS_MULTITHREAD_SUPPORT");
    info.threads = info.multithread ? navigator.hardwareConcurrency : 1;
  }
  return info;
}

/**
 * Times `tf.matMul` on an `n x n` square with the active backend: a warm-up product, then
 * `iters` products with one readback at the end, best of `sets`. Skips (null) when the
 * estimate says one product takes more than `maxSeconds`.
 */
export async function benchTfjsMatmul(
  n: number,
  opts: { estimateGflops?: number; targetSeconds?: number; maxSeconds?: number; sets?: number } =
    {},
): Promise<TfjsResult> {
  const flop = 2 * n ** 3;
  if (opts.estimateGflops) {
    const predicted = flop / (opts.estimateGflops * 1e9);
    if (predicted > (opts.maxSeconds ?? 8)) {
      return {
        gflops: null,
        reason: `skipped to keep the bench short: predicted ${
          predicted.toFixed(0)
        } s per product at ${opts.estimateGflops.toFixed(2)} GFLOP/s`,
      };
    }
  }
  const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
  try {
    const t0 = performance.now();
    const w = tf.matMul(a, b);
    await w.data();
    w.dispose();
    const once = (performance.now() - t0) / 1000;
    const est = opts.estimateGflops ? flop / (opts.estimateGflops * 1e9) : once;
    const iters = Math.max(1, Math.min(50, Math.round((opts.targetSeconds ?? 1) / est)));
    let best = 0, bestCpu = 0;
    for (let s = 0; s < (opts.sets ?? 2); s++) {
      const c1 = process.cpuUsage(), t1 = performance.now();
      let c: tf.Tensor | null = null;
      for (let i = 0; i < iters; i++) {
        c?.dispose();
        c = tf.matMul(a, b);
      }
      await c!.data();
      c!.dispose();
      const cpu = process.cpuUsage(c1);
      best = Math.max(best, iters * flop / ((performance.now() - t1) / 1000) / 1e9);
      bestCpu = Math.max(bestCpu, iters * flop / ((cpu.user + cpu.system) / 1e6) / 1e9);
    }
    return { gflops: best, gflopsPerCpuSecond: bestCpu, iters };
  } finally {
    a.dispose();
    b.dispose();
  }
}
