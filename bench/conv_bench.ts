/**
 * Times conv2d forward + backward (input, weight and bias gradients) at a ResNet stage-1 size:
 * batch 32, 64 -> 64 channels, 3x3, stride 1, pad 1, 56x56. Each phase is queued `iters`
 * times and timed up to one readback at the end. Not a test.
 *
 * `deno run -A bench/conv_bench.ts [iters=3] [batch=32]`
 *
 * Besides wall time it prints the process CPU time divided by LP_NUM_THREADS ("cpu"): on a
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

const iters = Number(Deno.args[0] ?? 3);
const N = Number(Deno.args[1] ?? 32);
const C = 64, H = 56, W = 56, K = 3;
const opts = { stride: 1, padding: 1 };

const dev = await initDevice();
const x = tensor(randomData(N * C * H * W, 1), [N, C, H, W]);
const w = tensor(randomData(C * C * K * K, 2).map((v) => v * 0.05), [C, C, K, K]);
const b = tensor(randomData(C, 3), [C]);
const gy = tensor(randomData(N * C * H * W, 4), [N, C, H, W]);

const threads = Number(Deno.env.get("LP_NUM_THREADS") ?? navigator.hardwareConcurrency);
const cpuMs: number[] = [];

async function time(name: string, fn: () => Tensor[]): Promise<number> {
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
  const cpu = (c.user + c.system) / 1000 / threads / iters;
  cpuMs.push(cpu);
  for (const t of last) t.dispose();
  console.log(
    `${name.padEnd(10)} ${ms.toFixed(1).padStart(8)} ms   cpu ${cpu.toFixed(1).padStart(8)} ms`,
  );
  return ms;
}

const flop = 2 * N * C * H * W * C * K * K; // one GEMM-sized pass
console.log(`conv2d ${N}x${C}x${H}x${W} -> ${C}, ${K}x${K} pad 1 on ${dev.report.description}`);
const f = await time("forward", () => [conv2dRaw(x, w, b, opts)]);
const dxMs = await time("grad x", () => [conv2dBackwardInputRaw(gy, w, x.shape, opts)]);
const dwMs = await time("grad w+b", () => [
  conv2dBackwardWeightRaw(gy, x, w.shape, opts),
  conv2dBackwardBiasRaw(gy),
]);
const total = f + dxMs + dwMs;
console.log(
  `fwd+bwd    ${total.toFixed(1).padStart(8)} ms wall  ${
    (3 * flop / total / 1e6).toFixed(1)
  } GFLOP/s ` +
    `(fwd ${(flop / f / 1e6).toFixed(1)}, dx ${(flop / dxMs / 1e6).toFixed(1)}, dw ${
      (flop / dwMs / 1e6).toFixed(1)
    })`,
);
const cpuTotal = cpuMs.reduce((a, v) => a + v, 0);
console.log(
  `fwd+bwd    ${cpuTotal.toFixed(1).padStart(8)} ms cpu   ${
    (3 * flop / cpuTotal / 1e6).toFixed(1)
  } GFLOP/s`,
);
for (const t of [x, w, b, gy]) t.dispose();
