/**
 * Peak GPU memory of one training step per method on ResNet-18 (CIFAR stem) at 32x32, batch
 * 128, from the buffer pool's high-water mark (`pool.stats().peakLiveBytes`): every live tensor
 * (weights, gradients, optimizer state, activations, temporaries, a teacher) at the fullest
 * point of the step. Free buffers kept by the pool for reuse are reported apart (`pool_bytes`).
 *
 * The second of two steps is measured: the first also creates the optimizer state. Views are
 * fixed random tensors (no data loading). DINO uses 2 global 32 px and 6 local 16 px views;
 * the distillation methods use a DINOv2 ViT-B/14 teacher (default `dinov2/vitb14`, random
 * weights from a temp file) that sees the student's view, so their view is 28 px (a multiple of
 * the patch size 14). DINOv2 is skipped: it trains a
 * ViT (masked patch tokens), which ResNet-18 does not have.
 *
 * `deno run -A bench/memory_bench.ts [--batch=128]`
 *
 * @module
 */
import { initDevice } from "../core/device.ts";
import { pool, sync } from "../core/engine.ts";
import { MethodRun } from "../core/method_run.ts";
import { getMethod, type MethodPlugin } from "../core/plugin.ts";
import { Rng } from "../core/random.ts";
import { clearBindGroupCache } from "../kernels/kernel.ts";
import { trimMatmulTextures } from "../kernels/matmul_tex.ts";
import { createModel, type ModelWrapper, saveSafetensors } from "../models/mod.ts";
import { loadModelWithWeights } from "../models/wrapper.ts";
import { listMethods } from "../methods/mod.ts";
import { methodStepper } from "./models_bench.ts";

const STUDENT = "torchvision/resnet18";
const STUDENT_OPTIONS = { cifarStem: true };
const TEACHER = "dinov2/vitb14";

/** One method's memory figures (bytes). */
export interface MemoryCase {
  /** Method name. */
  method: string;
  /** Views per image, `[c, h, w]` each. */
  views?: number[][];
  /** Peak live bytes during the measured step. */
  peak_live_bytes?: number;
  /** Live bytes before it (weights, optimizer state, teacher). */
  base_live_bytes?: number;
  /** Pool bytes (live + free for reuse) after it. */
  pool_bytes?: number;
  /** Seconds the two steps took (not a throughput figure). */
  seconds?: number;
  /** Why there is no figure. */
  skipped?: string;
  /** What went wrong. */
  error?: string;
}

function viewsOf(method: string): number[][] {
  if (method === "simclr") return [[3, 32, 32], [3, 32, 32]];
  if (method === "dino") return [[3, 32, 32], [3, 32, 32], ...Array(6).fill([3, 16, 16])];
  // The DINOv2 teacher needs a multiple of its patch size 14: the student sees the same view.
  return [[3, 28, 28]];
}

/** Measures every built-in method (and any plugin registered) at `batch` (default 128). */
export async function benchMemory(
  opts: { batch?: number; log?: (l: string) => void } = {},
): Promise<{ what: string; model: string; batch: number; methods: MemoryCase[] }> {
  await initDevice();
  const batch = opts.batch ?? 128;
  const log = opts.log ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "sinter_memory_bench_" });
  const out: MemoryCase[] = [];
  try {
    let teacherWeights: string | null = null;
    for (const m of listMethods()) {
      const plugin = getMethod(m.name) as MethodPlugin;
      if (plugin.name !== m.name) continue; // an alias (distillationv3)
      if (m.name === "dinov2") {
        out.push({ method: m.name, skipped: "DINOv2 trains a ViT (masked patch tokens)" });
        continue;
      }
      const views = viewsOf(m.name);
      const args: Record<string, unknown> = { ...plugin.defaults.methodArgs };
      if ("teacher" in args) {
        if (!teacherWeights) {
          const t = createModel(TEACHER, { seed: 7 });
          teacherWeights = `${dir}/teacher.safetensors`;
          await saveSafetensors(teacherWeights, await t.getModel().stateDict());
          t.getModel().dispose();
        }
        Object.assign(args, { teacher: TEACHER, teacher_weights: teacherWeights });
      }
      log(`memory: ${m.name}, ${STUDENT} batch ${batch}`);
      const model = createModel(STUDENT, { ...STUDENT_OPTIONS, seed: 1 });
      const loaded: ModelWrapper[] = [];
      const t0 = performance.now();
      try {
        const inst = await plugin.create({
          model,
          args,
          datasetSize: 50_000,
          batchSize: batch,
          totalSteps: 1000,
          rng: new Rng(3),
          loadModel: async (name, o) => {
            const w = await loadModelWithWeights(name, o);
            loaded.push(w);
            return w;
          },
        });
        const run = new MethodRun(plugin, inst, {
          optimizer: "auto",
          batchSize: batch,
          totalSteps: 1000,
          epochs: 10,
        });
        const s = methodStepper(run, (b) => views.map((v) => [b, ...v]))(batch);
        try {
          const first = s.step();
          await first.data();
          first.dispose();
          await sync();
          const base = pool.stats().liveBytes;
          pool.resetPeak();
          const second = s.step();
          await second.data();
          second.dispose();
          const st = pool.stats();
          out.push({
            method: m.name,
            views: views.map((v) => [batch, ...v]),
            peak_live_bytes: st.peakLiveBytes,
            base_live_bytes: base,
            pool_bytes: st.liveBytes + st.freeBytes,
            seconds: Math.round((performance.now() - t0) / 100) / 10,
          });
          log(`  peak ${(st.peakLiveBytes / 2 ** 20).toFixed(1)} MiB`);
        } finally {
          s.dispose();
          run.dispose();
          inst.dispose();
        }
      } catch (e) {
        out.push({ method: m.name, error: (e as Error).message });
        log(`  failed: ${(e as Error).message}`);
      } finally {
        model.getModel().dispose();
        for (const w of loaded) w.getModel().dispose();
        pool.trim();
        clearBindGroupCache();
        trimMatmulTextures();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return {
    what: "peak GPU memory (buffer-pool high-water mark) of the second of two training steps " +
      "per method, fixed random views; distillation teachers are dinov2/vitb14 with random weights",
    model: `${STUDENT} ${JSON.stringify(STUDENT_OPTIONS)}`,
    batch,
    methods: out,
  };
}

if (import.meta.main) {
  const b = Deno.args.find((a) => a.startsWith("--batch="));
  const r = await benchMemory({ batch: b ? Number(b.slice(8)) : 128, log: console.error });
  console.log(JSON.stringify(r, null, 2));
}
