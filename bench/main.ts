/**
 * `deno task bench`: every benchmark of the project in one run on the current adapter, written
 * to one JSON per adapter, `bench/results/<adapter>.json` (the previous file of that adapter is
 * replaced), with a short table at the end. Sections:
 *
 * - `matmul`: fp32 GFLOP/s of Sinter's kernels against OpenBLAS and TF.js (bench/matmul_section.ts)
 * - `conv2d`: forward + backward at a ResNet stage-1 size (bench/conv_bench.ts)
 * - `models`: forward, forward + backward and SimCLR training step of ResNet-18 (CIFAR stem and
 *   64 px), ViT-Tiny/4 and tinycnn16, with ratios against PyTorch 1.13 CPU (bench/models_bench.ts)
 * - `methods`: one training step per method on a small model (bench/methods_bench.ts)
 * - `memory`: peak GPU memory of a training step per method on ResNet-18 (CIFAR stem) at 32x32,
 *   batch 128 (bench/memory_bench.ts; batch 8 in a quick run)
 * - `loader`: JPEG decode + resize on the CPU, and the GPU view pipelines of SimCLR and DINO
 *   (bench/loader_bench.ts)
 *
 * `deno task bench [quick] [--only=models,methods] [--skip=matmul] [--sizes=256,512]
 * [--max-seconds=4] [--no-tfjs] [--cap-seconds=40] [--full-batch]`
 *
 * `quick` is a shorter run for checking that everything works (few sizes, no TF.js, training
 * steps only, small caps); its numbers are not the reference ones: it writes
 * `<adapter>_quick.json`, and a run with `--only` or `--skip` writes `<adapter>_partial.json`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { initDevice } from "../core/device.ts";
import { pool } from "../core/engine.ts";
import { clearBindGroupCache } from "../kernels/kernel.ts";
import { trimMatmulTextures } from "../kernels/matmul_tex.ts";
import { addTfjs, benchMatmul, type MatmulSection } from "./matmul_section.ts";
import { benchConv, type ConvBenchResult } from "./conv_bench.ts";
import { benchModels, type ModelCaseResult } from "./models_bench.ts";
import { benchMethods } from "./methods_bench.ts";
import { benchLoader, benchViews } from "./loader_bench.ts";
import { benchMemory, type MemoryCase } from "./memory_bench.ts";
import { adapterSlug, updateReadme } from "./readme_table.ts";
import type { StepTiming } from "./step_timer.ts";

const nproc = navigator.hardwareConcurrency;
// Before the device exists: lavapipe reads LP_NUM_THREADS when the adapter is created.
for (const v of ["LP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]) {
  if (!Deno.env.get(v)) Deno.env.set(v, String(nproc));
}

const SECTIONS = ["matmul", "conv2d", "models", "methods", "memory", "loader"] as const;
type Section = typeof SECTIONS[number];

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    sizes: { type: "string" },
    "max-seconds": { type: "string" },
    "no-tfjs": { type: "boolean", default: false },
    "no-conv": { type: "boolean", default: false },
    only: { type: "string" },
    skip: { type: "string" },
    "cap-seconds": { type: "string" },
    "full-batch": { type: "boolean", default: false },
  },
});
for (const p of positionals) {
  if (p !== "quick") throw new Error(`unknown argument '${p}' (the only one is 'quick')`);
}
const quick = positionals.includes("quick");
const sizes = (values.sizes ?? (quick ? "256,512" : "256,512,1024,2048")).split(",").map(Number);
const maxSeconds = Number(values["max-seconds"] ?? (quick ? 2 : 4));
const capSeconds = Number(values["cap-seconds"] ?? (quick ? 10 : 40));
const tfjs = !values["no-tfjs"] && !quick;

function sectionList(s: string | undefined): Section[] {
  const list = (s ?? "").split(",").filter(Boolean);
  for (const x of list) {
    if (!SECTIONS.includes(x as Section)) {
      throw new Error(`unknown section '${x}' (sections: ${SECTIONS.join(", ")})`);
    }
  }
  return list as Section[];
}
const only = sectionList(values.only), skip = sectionList(values.skip);
if (values["no-conv"]) skip.push("conv2d");
const run = (s: Section) => (only.length ? only.includes(s) : true) && !skip.includes(s);

function log(msg: string): void {
  console.error(msg);
}

function cpuModel(): string {
  try {
    return cpus()[0]?.model ?? "";
  } catch {
    return "";
  }
}

async function git(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Runs one section; a failure is recorded in its place instead of ending the run. */
async function section<T>(name: Section, fn: () => Promise<T>): Promise<T | { error: string }> {
  const t0 = performance.now();
  log(`\n== ${name}`);
  try {
    return await fn();
  } catch (e) {
    log(`${name} failed: ${(e as Error).stack ?? e}`);
    return { error: (e as Error).message };
  } finally {
    pool.trim();
    clearBindGroupCache();
    trimMatmulTextures();
    seconds[name] = Math.round((performance.now() - t0) / 100) / 10;
    log(`== ${name}: ${seconds[name]} s`);
  }
}

const seconds: Record<string, number> = {};
const t0 = performance.now();
const loadBefore = Deno.loadavg();
const dev = await initDevice();
const report = dev.report;
log(`bench on ${report.description} (${cpuModel()}, ${nproc} cores)${quick ? ", quick" : ""}`);

const results: Record<string, unknown> = {};
if (run("matmul")) {
  results.matmul = await section(
    "matmul",
    () => benchMatmul(report, { sizes, maxSeconds, selection: !quick, log }),
  );
}
if (run("conv2d")) {
  results.conv2d = await section(
    "conv2d",
    () => benchConv(quick ? { iters: 1, batch: 8, log } : { iters: 3, batch: 32, log }),
  );
}
if (run("models")) {
  results.models = await section("models", () =>
    benchModels({
      targetSeconds: quick ? 2 : 6,
      capSeconds,
      fullBatch: values["full-batch"],
      trainOnly: quick,
      log,
    }));
}
if (run("methods")) {
  results.methods = await section(
    "methods",
    () => benchMethods({ targetSeconds: quick ? 1 : 4, capSeconds, log }),
  );
}
if (run("memory")) {
  results.memory = await section("memory", () => benchMemory({ batch: quick ? 8 : 128, log }));
}
if (run("loader")) {
  results.loader = await section("loader", async () => ({
    decode: await benchLoader(quick ? { images: 96, workers: [0, 2] } : { images: 480 }),
    views: await benchViews({
      targetSeconds: quick ? 1 : 4,
      batchSize: quick ? 8 : 32,
      capSeconds,
      log,
    }),
  }));
}
// TF.js last: it keeps its own device and memory for the rest of the process.
const mm = results.matmul as MatmulSection | { error: string } | undefined;
if (mm && "rows" in mm && tfjs) {
  const t1 = performance.now();
  log("\n== matmul: TF.js");
  await addTfjs(mm, maxSeconds).catch((e) => {
    mm.tfjs = { error: (e as Error).message };
  });
  seconds.matmul_tfjs = Math.round((performance.now() - t1) / 100) / 10;
} else if (mm && "rows" in mm) {
  mm.tfjs = { skipped: quick ? "quick run" : "--no-tfjs" };
  for (const r of mm.rows) r.tfjs_reason = r.tfjs_wasm_reason = String(mm.tfjs.skipped);
}

const date = new Date().toISOString();
const commit = await git(["rev-parse", "HEAD"]);
const status = commit === null
  ? null
  : await git(["status", "--porcelain", "--untracked-files=no"]);
const out = {
  date,
  git_commit: commit,
  git_dirty: status === null ? null : status.length > 0,
  quick,
  sections: SECTIONS.filter(run),
  adapter: report,
  cpu: {
    model: cpuModel(),
    cores: nproc,
    loadavg_before: loadBefore,
    loadavg_after: Deno.loadavg(),
  },
  env: {
    LP_NUM_THREADS: Deno.env.get("LP_NUM_THREADS"),
    OPENBLAS_NUM_THREADS: Deno.env.get("OPENBLAS_NUM_THREADS"),
    OPENBLAS_CORETYPE: Deno.env.get("OPENBLAS_CORETYPE") ?? null,
    SINTER_MATMUL: Deno.env.get("SINTER_MATMUL") ?? null,
  },
  deno: Deno.version,
  options: {
    sizes,
    max_seconds: maxSeconds,
    cap_seconds: capSeconds,
    full_batch: values["full-batch"],
  },
  seconds: { ...seconds, total: Math.round((performance.now() - t0) / 100) / 10 },
  ...results,
};
const dir = new URL("./results/", import.meta.url);
await Deno.mkdir(dir, { recursive: true });
// Only a full run writes the adapter's reference file; quick and partial runs write beside it.
const partial = only.length > 0 || skip.length > 0;
const suffix = quick ? "_quick" : partial ? "_partial" : "";
const file = new URL(`${adapterSlug(report.description)}${suffix}.json`, dir);
await Deno.writeTextFile(file, JSON.stringify(out, null, 2) + "\n");
printTable(out);
console.log(`\nwrote ${file.pathname} (${out.seconds.total} s)`);
if (!suffix) {
  updateReadme(new URL("../README.md", import.meta.url), dir);
  console.log("updated the README's benchmark table");
}
Deno.exit(0);

function fmt(v: number | null | undefined, w = 8, d = 2): string {
  return (v == null ? "-" : v.toFixed(d)).padStart(w);
}

function ok<T extends object>(v: unknown): v is T {
  return typeof v === "object" && v !== null && !("error" in v) && !("skipped" in v);
}

function timingCell(t: StepTiming | { error: string } | null | undefined, w = 9): string {
  if (!t) return "-".padStart(w);
  if ("error" in t) return "error".padStart(w);
  return (t.images_per_s.toFixed(1) + (t.batch < t.batch_requested ? "*" : "")).padStart(w);
}

function printTable(o: Record<string, unknown>): void {
  const pct = (v: number | null) => (v == null ? "-" : v.toFixed(1) + "%").padStart(8);
  const mm = o.matmul as MatmulSection | undefined;
  if (ok<MatmulSection>(mm)) {
    console.log("\nmatmul GFLOP/s (wall)" + " ".repeat(45) + "| GFLOP per CPU-second");
    console.log(
      "   size   sinter (kernel)  openblas  tfjs-gpu tfjs-wasm   ratio |   sinter  openblas   ratio",
    );
    for (const r of mm.rows) {
      console.log(
        `${String(r.size).padStart(7)} ${fmt(r.sinter_gflops)} (${
          (r.sinter_kernel ?? "-").padEnd(6)
        })` +
          `${fmt(r.openblas_gflops, 10)}${fmt(r.tfjs_gflops, 10)}${fmt(r.tfjs_wasm_gflops, 10)}` +
          `${pct(r.sinter_pct_of_openblas)} | ${fmt(r.sinter_gflops_per_cpu_s)}` +
          `${fmt(r.openblas_gflops_per_cpu_s, 10)}${pct(r.sinter_pct_of_openblas_per_cpu_s)}`,
      );
    }
  }
  const conv = o.conv2d as ConvBenchResult | undefined;
  if (ok<ConvBenchResult>(conv)) {
    console.log(
      `\n${conv.what}: fwd ${conv.forward.ms} ms, dx ${conv.gradInput.ms} ms, dw+db ` +
        `${conv.gradWeight.ms} ms; fwd+bwd ${conv.total.gflops} GFLOP/s`,
    );
  }
  const models = o.models as { cases: ModelCaseResult[] } | undefined;
  if (ok<{ cases: ModelCaseResult[] }>(models)) {
    console.log(
      "\nmodels, images/s  (* = smaller batch, see JSON)   forward  fwd+bwd   train  " +
        "pytorch   ratio  ratio/cpu  peak MiB",
    );
    for (const c of models.cases) {
      const t = c.train_step as StepTiming;
      console.log(
        `${c.id.padEnd(20)} [${c.input.join("x")}]`.padEnd(48) +
          timingCell(c.forward) + timingCell(c.forward_backward) + timingCell(c.train_step, 8) +
          fmt(c.pytorch_train_images_per_s, 9, 1) + fmt(c.ratio_vs_pytorch, 8) +
          fmt(c.ratio_vs_pytorch_per_cpu, 11) +
          fmt("peak_live_bytes" in t ? t.peak_live_bytes / 2 ** 20 : null, 10, 0),
      );
    }
  }
  const methods = o.methods as { methods: Record<string, unknown>[] } | undefined;
  if (ok<{ methods: Record<string, unknown>[] }>(methods)) {
    console.log("\nmethods (1 step)     model                  batch   images/s  peak MiB");
    for (const m of methods.methods) {
      const t = m.train_step as StepTiming | { error: string };
      console.log(
        `${String(m.method).padEnd(20)} ${String(m.model).padEnd(22)}${
          String(m.batch).padStart(6)
        }` +
          timingCell(t, 11) +
          fmt("peak_live_bytes" in t ? t.peak_live_bytes / 2 ** 20 : null, 10, 0),
      );
    }
  }
  const memory = o.memory as { batch: number; model: string; methods: MemoryCase[] } | undefined;
  if (ok<{ methods: MemoryCase[] }>(memory)) {
    console.log(
      `\npeak GPU memory of a training step, ${memory.model}, batch ${memory.batch}: MiB peak ` +
        "(weights + optimizer state + teacher before the step)",
    );
    for (const m of memory.methods) {
      const cell = m.peak_live_bytes !== undefined
        ? `${fmt(m.peak_live_bytes / 2 ** 20, 8, 0)} (${fmt(m.base_live_bytes! / 2 ** 20, 0, 0)})`
        : `       - (${m.skipped ?? m.error})`;
      console.log(`${m.method.padEnd(20)} ${cell}`);
    }
  }
  const loader = o.loader as
    | { decode: Record<string, unknown>; views: { results: Record<string, unknown>[] } }
    | undefined;
  if (ok<{ decode: Record<string, unknown> }>(loader)) {
    const d = loader.decode;
    console.log(
      `\nloader: decode + resize to 224 ${d.bestImagesPerSec} images/s (${d.bestWorkers} ` +
        `workers, CPU)`,
    );
    for (const v of loader.views.results) {
      const t = v.timing as StepTiming | { error: string };
      console.log(
        `views ${String(v.method).padEnd(7)} ${(v.views as string[]).join(" ")}: ${
          timingCell(t, 0)
        } images/s (GPU)`,
      );
    }
  }
  const cpu = o.cpu as { loadavg_before: number[]; loadavg_after: number[] };
  console.log(
    `\nload average before / after: ${cpu.loadavg_before.map((v) => v.toFixed(2)).join(" ")} / ` +
      `${cpu.loadavg_after.map((v) => v.toFixed(2)).join(" ")}`,
  );
}
