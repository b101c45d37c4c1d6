/**
 * OpenBLAS `cblas_sgemm` through Deno FFI, as the CPU baseline of the matmul bench. Uses
 * Debian's libopenblas (`apt-get install libopenblas0`); `OPENBLAS_NUM_THREADS` sets the thread
 * count and `OPENBLAS_CORETYPE` the kernel family (read when the library loads).
 *
 * Run as a script it prints one JSON object, so bench/main.ts can measure a second core type
 * in a child process: `deno run --allow-ffi --allow-env --allow-read bench/openblas.ts 256,512`.
 *
 * @module
 */
import process from "node:process";

const CANDIDATES = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.dylib",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
];

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_config: { parameters: [], result: "pointer" },
  openblas_get_corename: { parameters: [], result: "pointer" },
} as const;

/** What the OpenBLAS run measured. */
export interface OpenblasResult {
  /** The library file that loaded. */
  library: string;
  /** `openblas_get_config()`. */
  config: string;
  /** The kernel family in use (`openblas_get_corename()`). */
  core: string;
  /** Threads OpenBLAS uses. */
  threads: number;
  /** `OPENBLAS_CORETYPE` as set for this run, if any. */
  coretype: string | null;
  /** GFLOP/s per square size (best of a few timed sets). */
  gflops: Record<number, number>;
  /** GFLOP per CPU-second of the process, same sets (steadier when cores are shared). */
  gflopsPerCpuSecond: Record<number, number>;
}

/** Loads OpenBLAS and times `sgemm` on square sizes; throws if the library is missing. */
export function benchOpenblas(sizes: readonly number[], targetSeconds = 0.5): OpenblasResult {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null, library = "";
  const errors: string[] = [];
  for (const path of CANDIDATES) {
    try {
      lib = Deno.dlopen(path, SYMBOLS);
      library = path;
      break;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  if (!lib) {
    throw new Error(
      "OpenBLAS not found (install it with `apt-get install libopenblas0`): " + errors.join("; "),
    );
  }
  try {
    const s = lib.symbols;
    const cstr = (p: Deno.PointerValue) => p ? Deno.UnsafePointerView.getCString(p) : "";
    const gflops: Record<number, number> = {}, perCpu: Record<number, number> = {};
    for (const n of sizes) {
      const a = new Float32Array(n * n), b = new Float32Array(n * n), c = new Float32Array(n * n);
      for (let i = 0; i < a.length; i++) {
        a[i] = Math.sin(i);
        b[i] = Math.cos(i);
      }
      // RowMajor = 101, NoTrans = 111.
      const run = () => s.cblas_sgemm(101, 111, 111, n, n, n, 1, a, n, b, n, 0, c, n);
      run();
      const flop = 2 * n ** 3;
      const t0 = performance.now();
      run();
      const once = (performance.now() - t0) / 1000;
      const reps = Math.max(1, Math.min(200, Math.round(targetSeconds / 3 / once)));
      let best = 0, bestCpu = 0;
      for (let set = 0; set < 3; set++) {
        const c1 = process.cpuUsage(), t1 = performance.now();
        for (let r = 0; r < reps; r++) run();
        const cpu = process.cpuUsage(c1);
        best = Math.max(best, reps * flop / ((performance.now() - t1) / 1000) / 1e9);
        bestCpu = Math.max(bestCpu, reps * flop / ((cpu.user + cpu.system) / 1e6) / 1e9);
      }
      gflops[n] = best;
      perCpu[n] = bestCpu;
    }
    return {
      library,
      config: cstr(s.openblas_get_config()),
      core: cstr(s.openblas_get_corename()),
      threads: s.openblas_get_num_threads(),
      coretype: Deno.env.get("OPENBLAS_CORETYPE") ?? null,
      gflops,
      gflopsPerCpuSecond: perCpu,
    };
  } finally {
    lib.close();
  }
}

/** OpenBLAS core names that mean "CPU not recognised, generic SSE kernels". */
export const GENERIC_CORES: readonly string[] = [
  "prescott",
  "core2",
  "penryn",
  "dunnington",
  "nehalem",
  "atom",
  "katmai",
  "coppermine",
  "northwood",
  "banias",
  "generic",
];

/**
 * Core types to try, best first, when OpenBLAS falls back to generic kernels. Each is tried in a
 * child process: one the CPU lacks the instructions for dies there (SIGILL), not here.
 */
export const CORETYPES_TO_TRY: readonly string[] = ["SkylakeX", "Haswell", "Sandybridge"];

if (import.meta.main) {
  const sizes = (Deno.args[0] ?? "256,512,1024,2048").split(",").map(Number);
  console.log(JSON.stringify(benchOpenblas(sizes)));
}
