/**
 * The matmul section of `deno task bench`: fp32 GFLOP/s for square sizes, every Sinter kernel
 * against OpenBLAS (FFI `cblas_sgemm`), TF.js WebGPU on the same adapter and TF.js WASM, plus
 * microseconds per op on small and odd shapes (the data behind the selection table).
 *
 * Thread counts: `LP_NUM_THREADS` (lavapipe) and `OPENBLAS_NUM_THREADS` default to all cores
 * (bench/main.ts sets them before the device exists) so both sides use the same CPUs;
 * `OPENBLAS_CORETYPE` picks OpenBLAS's kernel family. When the library does not recognise the
 * CPU (it then runs generic SSE kernels) the bench also measures the best family for the CPU's
 * flags in a child process and reports that as the baseline.
 *
 * @module
 */
import type { AdapterReport } from "../core/device.ts";
import { benchSquare, type KernelResult, timeGpu } from "./matmul_bench.ts";
import { tensor } from "../core/tensor.ts";
import { randomData } from "../core/testing.ts";
import { matmulRawWith } from "../kernels/matmul.ts";
import {
  MATMUL_KERNELS,
  MATMUL_TABLE,
  type MatmulKernel,
  selectMatmul,
} from "../kernels/matmul_select.ts";
import { benchOpenblas, CORETYPES_TO_TRY, GENERIC_CORES, type OpenblasResult } from "./openblas.ts";

let log: (msg: string) => void = () => {};

/** One row of the matmul section: one square size. */
export interface Row {
  size: number;
  sinter_gflops: number | null;
  sinter_kernel: MatmulKernel | null;
  sinter_selected: MatmulKernel;
  sinter_variants: Record<string, number | null>;
  sinter_variants_gflops_per_cpu_s: Record<string, number | null>;
  sinter_skipped: Record<string, string>;
  openblas_gflops: number | null;
  openblas_threads: number | null;
  openblas_core: string | null;
  openblas_default_gflops: number | null;
  openblas_default_core: string | null;
  openblas_gflops_per_cpu_s: number | null;
  tfjs_gflops: number | null;
  tfjs_gflops_per_cpu_s?: number;
  tfjs_reason?: string;
  tfjs_wasm_gflops: number | null;
  tfjs_wasm_gflops_per_cpu_s?: number;
  tfjs_wasm_reason?: string;
  sinter_pct_of_openblas: number | null;
  sinter_gflops_per_cpu_s: number | null;
  sinter_pct_of_openblas_per_cpu_s: number | null;
}

async function sinterRows(
  report: AdapterReport,
  sizes: number[],
  maxSeconds: number,
): Promise<Map<number, Partial<Row>>> {
  const rows = new Map<number, Partial<Row>>();
  const estimate = new Map<MatmulKernel, number>();
  for (const n of sizes) {
    const results: KernelResult[] = await benchSquare(n, MATMUL_KERNELS, {
      estimate,
      maxIterSeconds: maxSeconds,
      targetSeconds: 1.5,
    });
    const variants: Record<string, number | null> = {};
    const perCpu: Record<string, number | null> = {};
    const skipped: Record<string, string> = {};
    let best: KernelResult | null = null;
    for (const r of results) {
      variants[r.kernel] = r.timing?.gflops ?? null;
      perCpu[r.kernel] = r.timing?.gflopsPerCpuSecond ?? null;
      if (r.skipped) skipped[r.kernel] = r.skipped;
      if (r.timing && (!best || r.timing.gflops > best.timing!.gflops)) best = r;
      log(
        `sinter ${r.kernel.padEnd(6)} ${String(n).padStart(5)}: ` +
          (r.timing
            ? `${r.timing.gflops.toFixed(2)} GFLOP/s (${
              r.timing.gflopsPerCpuSecond.toFixed(2)
            } per CPU-s)`
            : r.skipped),
      );
    }
    const d = { batch: [], m: n, n, k: n, aBatched: false, bBatched: false };
    rows.set(n, {
      size: n,
      sinter_gflops: best?.timing?.gflops ?? null,
      sinter_kernel: best?.kernel ?? null,
      sinter_selected: selectMatmul(d),
      sinter_variants: variants,
      sinter_variants_gflops_per_cpu_s: perCpu,
      sinter_skipped: skipped,
    });
  }
  log(`(adapter: ${report.description})`);
  return rows;
}

async function tfjsRows(
  rows: Map<number, Partial<Row>>,
  sizes: number[],
  maxSeconds: number,
): Promise<Record<string, unknown>> {
  const info: Record<string, unknown> = {};
  let mod: typeof import("./tfjs.ts");
  try {
    mod = await import("./tfjs.ts");
  } catch (e) {
    const reason = `TF.js failed to load: ${(e as Error).message}`;
    for (const r of rows.values()) {
      r.tfjs_gflops = r.tfjs_wasm_gflops = null;
      r.tfjs_reason = r.tfjs_wasm_reason = reason;
    }
    return { error: reason };
  }
  for (const backend of ["webgpu", "wasm"] as const) {
    const key = backend === "webgpu" ? "tfjs" : "tfjs_wasm";
    let startError: string | null = null;
    try {
      await mod.useBackend(backend);
      info[backend] = mod.backendInfo();
    } catch (e) {
      startError = `backend ${backend} could not start under Deno: ${(e as Error).message}`;
      info[backend] = { error: startError };
    }
    let est: number | undefined;
    for (const n of sizes) {
      const r = rows.get(n)!;
      const res = startError
        ? { gflops: null, reason: startError }
        : await mod.benchTfjsMatmul(n, { estimateGflops: est, maxSeconds }).catch((e) => ({
          gflops: null,
          reason: `failed: ${(e as Error).message}`,
        }));
      if (res.gflops) est = res.gflops;
      (r as Record<string, unknown>)[`${key}_gflops`] = res.gflops;
      if (res.reason) (r as Record<string, unknown>)[`${key}_reason`] = res.reason;
      if ("gflopsPerCpuSecond" in res) {
        (r as Record<string, unknown>)[`${key}_gflops_per_cpu_s`] = res.gflopsPerCpuSecond;
      }
      log(
        `tfjs ${backend.padEnd(6)} ${String(n).padStart(5)}: ${
          res.gflops?.toFixed(2) ?? res.reason
        }`,
      );
    }
  }
  return info;
}

/** OpenBLAS in this process (its own CPU detection), plus the best core type in a child. */
async function openblasRows(
  rows: Map<number, Partial<Row>>,
  sizes: number[],
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let def: OpenblasResult | null = null;
  try {
    def = benchOpenblas(sizes);
    out.default = def;
  } catch (e) {
    out.error = (e as Error).message;
  }
  let best: OpenblasResult | null = def;
  if (def && !Deno.env.get("OPENBLAS_CORETYPE") && GENERIC_CORES.includes(def.core.toLowerCase())) {
    const tried: Record<string, string> = {};
    for (const want of CORETYPES_TO_TRY) {
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-ffi",
          "--allow-env",
          "--allow-read",
          new URL("./openblas.ts", import.meta.url).pathname,
          sizes.join(","),
        ],
        env: { OPENBLAS_CORETYPE: want },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!child.success) {
        tried[want] = `exit ${child.code}${child.signal ? ` (${child.signal})` : ""}: ` +
          new TextDecoder().decode(child.stderr).slice(-300);
        continue;
      }
      best = JSON.parse(new TextDecoder().decode(child.stdout)) as OpenblasResult;
      out.forced = best;
      out.note = `OpenBLAS detected this CPU as ${def.core} (generic SSE kernels); the baseline ` +
        `is OPENBLAS_CORETYPE=${want}, the best family that runs on this CPU`;
      break;
    }
    if (Object.keys(tried).length) out.coretypesFailed = tried;
  }
  for (const n of sizes) {
    const r = rows.get(n)!;
    r.openblas_gflops = best?.gflops[n] ?? null;
    r.openblas_gflops_per_cpu_s = best?.gflopsPerCpuSecond?.[n] ?? null;
    r.openblas_threads = best?.threads ?? null;
    r.openblas_core = best?.core ?? null;
    r.openblas_default_gflops = def?.gflops[n] ?? null;
    r.openblas_default_core = def?.core ?? null;
    log(
      `openblas ${String(n).padStart(5)}: ${r.openblas_gflops?.toFixed(2)} (${r.openblas_core}, ` +
        `${r.openblas_threads} threads; default ${r.openblas_default_core} ${
          r.openblas_default_gflops?.toFixed(2)
        })`,
    );
  }
  return out;
}

/** Small and odd shapes (batch, m, k, n) that place the table's texMinFlop threshold. */
const SELECTION_SHAPES: [number, number, number, number][] = [
  [1, 16, 16, 16],
  [1, 32, 32, 32],
  [1, 48, 48, 48],
  [1, 64, 64, 64],
  [1, 128, 128, 128],
  [1, 2, 384, 10],
  [1, 16, 1024, 16],
  [1, 1024, 16, 1024],
  [24, 197, 64, 197],
];

/** Microseconds per op of every kernel on the selection shapes, and what the table picks. */
async function selectionRows(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [nb, m, k, n] of SELECTION_SHAPES) {
    const a = tensor(randomData(nb * m * k, 1), nb > 1 ? [nb, m, k] : [m, k]);
    const b = tensor(randomData(nb * k * n, 2), nb > 1 ? [nb, k, n] : [k, n]);
    const flop = 2 * nb * m * n * k;
    const us: Record<string, number> = {};
    for (const kern of MATMUL_KERNELS) {
      const iters = Math.max(3, Math.min(100, Math.round(1e8 / flop)));
      let best = 0;
      for (let s = 0; s < 2; s++) {
        best = Math.max(best, (await timeGpu(flop, iters, () => matmulRawWith(kern, a, b))).gflops);
      }
      us[kern] = flop / best / 1e3;
    }
    a.dispose();
    b.dispose();
    const d = { batch: nb > 1 ? [nb] : [], m, n, k, aBatched: nb > 1, bBatched: nb > 1 };
    const fastest = Object.entries(us).sort((x, y) => x[1] - y[1])[0][0];
    out.push({ batch: nb, m, k, n, flop, us_per_op: us, fastest, table_picks: selectMatmul(d) });
    log(`selection [${nb}] ${m}x${k}x${n}: ${JSON.stringify(us)} table -> ${selectMatmul(d)}`);
  }
  return out;
}

/** Options of {@link benchMatmul}. */
export interface MatmulBenchOptions {
  /** Square sizes. */
  sizes: number[];
  /** A measurement predicted over this many seconds per product is skipped. */
  maxSeconds: number;
  /** Time the small and odd shapes of the selection table (default true). */
  selection?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The matmul section; TF.js columns stay empty until {@link addTfjs}. */
export interface MatmulSection {
  /** How the numbers are measured. */
  method: string;
  /** One row per size. */
  rows: Row[];
  /** Small and odd shapes. */
  selection: Record<string, unknown>;
  /** OpenBLAS runs (default detection, forced core type). */
  openblas: Record<string, unknown>;
  /** TF.js backends. */
  tfjs: Record<string, unknown>;
}

/** Sinter's kernels, the selection shapes and OpenBLAS (TF.js comes later: {@link addTfjs}). */
export async function benchMatmul(
  report: AdapterReport,
  o: MatmulBenchOptions,
): Promise<MatmulSection> {
  log = o.log ?? (() => {});
  const rows = await sinterRows(report, o.sizes, o.maxSeconds);
  const selection = o.selection === false ? null : await selectionRows();
  const openblas = await openblasRows(rows, o.sizes);
  for (const r of rows.values()) {
    r.tfjs_gflops = r.tfjs_wasm_gflops = null;
    r.tfjs_reason = r.tfjs_wasm_reason = "not run";
    r.sinter_pct_of_openblas = r.sinter_gflops && r.openblas_gflops
      ? 100 * r.sinter_gflops / r.openblas_gflops
      : null;
    r.sinter_gflops_per_cpu_s = r.sinter_kernel
      ? r.sinter_variants_gflops_per_cpu_s![r.sinter_kernel]
      : null;
    r.sinter_pct_of_openblas_per_cpu_s = r.sinter_gflops_per_cpu_s && r.openblas_gflops_per_cpu_s
      ? 100 * r.sinter_gflops_per_cpu_s / r.openblas_gflops_per_cpu_s
      : null;
  }
  return {
    method: "square n x n @ n x n in fp32; GPU kernels queued `iters` times and timed up to " +
      "one readback at the end; GFLOP/s = 2 n^3 iters / wall seconds; per-CPU-second figures " +
      "divide by the process CPU time instead",
    rows: o.sizes.map((n) => rows.get(n) as Row),
    selection: selection
      ? {
        table: MATMUL_TABLE,
        note: "microseconds per op (wall, including packing) for small and odd shapes",
        shapes: selection,
      }
      : { skipped: "quick run" },
    openblas,
    tfjs: { skipped: "not run" },
  };
}

/**
 * Fills the TF.js columns (WebGPU on the same adapter, WASM). Run it last: TF.js keeps its own
 * device and memory for the rest of the process.
 */
export async function addTfjs(m: MatmulSection, maxSeconds: number): Promise<void> {
  const rows = new Map(m.rows.map((r) => [r.size, r as Partial<Row>]));
  m.tfjs = await tfjsRows(rows, m.rows.map((r) => r.size), maxSeconds);
}
