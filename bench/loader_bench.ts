/**
 * Loader throughput: writes a folder of synthetic 512x512 JPEGs (smooth gradients, shapes and
 * grain, quality 90) to a temp dir with sharp, then times one epoch of the image loader at
 * working size 224 (`crop`: shorter side to 224, centre crop) for several worker counts.
 * Measures decode + resize + batch assembly on the CPU only: the GPU views (transforms/) are
 * not part of it, and the consumer does no work, so this is the loader's ceiling.
 *
 * {@link benchViews} times the GPU side that follows: upload of a loader batch (uint8
 * `[B, 224, 224, 3]`) and the method's random views (`ViewPipeline` with the built-in
 * transforms), for SimCLR (2 x 224) and DINO (2 x 224 + 6 x 96).
 *
 * `deno run -A bench/loader_bench.ts [images] [--views-only]`
 *
 * @module
 */
import process from "node:process";
import { createLoader, defaultWorkers } from "../data/loader.ts";
import { loadSharp } from "../data/sharp.ts";
import { initDevice } from "../core/device.ts";
import { pool } from "../core/engine.ts";
import { clearBindGroupCache } from "../kernels/kernel.ts";
import { Rng } from "../core/random.ts";
import { tidy } from "../core/tensor.ts";
import { uploadU8Batch } from "../transforms/batch.ts";
import { viewSpecs } from "../transforms/config.ts";
import { builtinTransforms } from "../transforms/defaults.ts";
import { ViewPipeline } from "../transforms/views.ts";
import { type StepTiming, timeSteps } from "./step_timer.ts";

/** Options of {@link benchLoader}. */
export interface LoaderBenchOptions {
  /** Images to generate; default 1000. */
  images?: number;
  /** Side of the generated JPEGs; default 512. */
  source?: number;
  /** Working size; default 224. */
  size?: number;
  /** Worker counts to time; default 0, 1, 2 and the default count (deduplicated). */
  workers?: number[];
  /** Batch size; default 32. */
  batchSize?: number;
}

let grain = new Float32Array(0);

/** One synthetic image: two gradients, a few discs and grain; differs per `seed`. */
function synthetic(side: number, seed: number): Uint8Array {
  if (grain.length < side * side + 65536) {
    let g = 12345;
    grain = Float32Array.from({ length: side * side + 65536 }, () => {
      g = (Math.imul(g, 1664525) + 1013904223) >>> 0;
      return (g / 4294967296 - 0.5) * 24;
    });
  }
  const g0 = (seed * 7919) % 65536;
  const px = new Uint8Array(side * side * 3);
  let s = (seed * 2654435761) >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const base = [rnd(), rnd(), rnd()].map((v) => 40 + v * 150);
  const grad = [rnd(), rnd(), rnd()].map((v) => (v - 0.5) * 200 / side);
  const discs = Array.from({ length: 4 }, () => ({
    x: rnd() * side,
    y: rnd() * side,
    r2: (0.05 + rnd() * 0.2) ** 2 * side * side,
    c: [rnd() * 255, rnd() * 255, rnd() * 255],
  }));
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 3, n = grain[g0 + y * side + x];
      px[o] = base[0] + grad[0] * x + n;
      px[o + 1] = base[1] + grad[1] * y + n;
      px[o + 2] = base[2] + grad[2] * (x + y) + n;
    }
  }
  for (const d of discs) {
    const r = Math.sqrt(d.r2);
    for (let y = Math.max(0, Math.floor(d.y - r)); y < Math.min(side, d.y + r); y++) {
      for (let x = Math.max(0, Math.floor(d.x - r)); x < Math.min(side, d.x + r); x++) {
        if ((x - d.x) ** 2 + (y - d.y) ** 2 >= d.r2) continue;
        const o = (y * side + x) * 3, n = grain[g0 + y * side + x];
        px[o] = d.c[0] + n;
        px[o + 1] = d.c[1] + n;
        px[o + 2] = d.c[2] + n;
      }
    }
  }
  return px;
}

/** Writes `n` synthetic JPEGs into `dir`; returns their total size in bytes. */
export async function writeImages(dir: string, n: number, side: number): Promise<number> {
  const sharp = await loadSharp();
  let bytes = 0;
  const par = 4;
  for (let i = 0; i < n; i += par) {
    await Promise.all(Array.from({ length: Math.min(par, n - i) }, async (_, k) => {
      const raw = synthetic(side, i + k);
      const jpg = await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
        .jpeg({ quality: 90 }).toBuffer();
      bytes += jpg.length;
      await Deno.writeFile(`${dir}/img_${String(i + k).padStart(5, "0")}.jpg`, jpg);
    }));
  }
  return bytes;
}

/**
 * Generates the images, times one loader epoch per worker count, removes the images, and
 * returns the results (images/s of decode + resize to `size`, decode only, no GPU work).
 */
export async function benchLoader(opts: LoaderBenchOptions = {}): Promise<object> {
  const n = opts.images ?? 1000, side = opts.source ?? 512, size = opts.size ?? 224;
  const batchSize = opts.batchSize ?? 32;
  const workers = opts.workers ?? [...new Set([0, 1, 2, defaultWorkers()])];
  const dir = await Deno.makeTempDir({ prefix: "sinter_loader_bench_" });
  try {
    const g0 = performance.now();
    const bytes = await writeImages(dir, n, side);
    const genMs = performance.now() - g0;
    const results = [];
    for (const w of workers) {
      const loader = await createLoader({
        data: dir,
        batchSize,
        size,
        resize: "crop",
        workers: w,
        prefetch: 4,
        seed: 1,
      });
      try {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        let images = 0;
        for await (const b of loader.epoch(0)) images += b.shape[0];
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(c0);
        const t = loader.timing();
        results.push({
          workers: w,
          imagesPerSec: Math.round((images / ms) * 1000),
          ms: Math.round(ms),
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          cpuMsPerImage: +((cpu.user + cpu.system) / 1000 / images).toFixed(2),
          decodeMsPerImage: +(loader.summary().decodeMs / loader.summary().decoded).toFixed(2),
          firstBatchMs: Math.round(t.firstBatchMs),
          images,
        });
      } finally {
        loader.close();
      }
    }
    const best = results.reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
    return {
      name: "loader",
      what:
        `decode + resize of ${side}x${side} JPEG (q90) to ${size} (crop), batch ${batchSize}; ` +
        "CPU only, GPU views (transforms/) not included",
      images: n,
      jpegKiB: Math.round(bytes / n / 1024),
      generateMs: Math.round(genMs),
      cpus: navigator.hardwareConcurrency,
      results,
      bestImagesPerSec: best.imagesPerSec,
      bestWorkers: best.workers,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Options of {@link benchViews}. */
export interface ViewBenchOptions {
  /** Methods whose built-in transforms to time; default simclr and dino. */
  methods?: string[];
  /** Images per batch; default 32. */
  batchSize?: number;
  /** Side of the uint8 source images (the loader's working size); default 224. */
  size?: number;
  /** Seconds of timed batches per method; default 4. */
  targetSeconds?: number;
  /** Longest step to time (default 40 s; see bench/step_timer.ts). */
  capSeconds?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Times the GPU view pipeline per method: each step uploads one uint8 batch and runs all its
 * views (`ViewPipeline.run`, as the trainer does); steps are queued with one readback at the
 * end. Random source bytes: the cost does not depend on the content.
 */
export async function benchViews(opts: ViewBenchOptions = {}): Promise<object> {
  await initDevice();
  const B = opts.batchSize ?? 32, S = opts.size ?? 224;
  const log = opts.log ?? (() => {});
  const bytes = new Rng(1).uniformArray(B * S * S * 3, 0, 256);
  const src = Uint8Array.from(bytes, (v) => Math.floor(v));
  const results: Record<string, unknown>[] = [];
  for (const method of opts.methods ?? ["simclr", "dino"]) {
    const specs = viewSpecs(builtinTransforms(method));
    const pipeline = new ViewPipeline(specs);
    const views = specs.map((v) => `${v.size[0]}x${v.size[1]}`);
    log(`views ${method}: ${views.join(" ")} from [${B}, ${S}, ${S}, 3] uint8`);
    const rng = new Rng(2);
    let timing: StepTiming | { error: string };
    try {
      timing = await timeSteps(B, (b) => ({
        step: () =>
          tidy(() => {
            const img = uploadU8Batch(src.subarray(0, b * S * S * 3), [b, S, S, 3]);
            const out = pipeline.run(img, rng).out;
            return out[out.length - 1];
          }),
        dispose: () => {},
      }), {
        targetSeconds: opts.targetSeconds ?? 4,
        capSeconds: opts.capSeconds ?? 40,
        maxSteps: 50,
        log,
      });
    } catch (e) {
      timing = { error: (e as Error).message };
      log(`  failed: ${(e as Error).message}`);
    }
    pool.trim();
    clearBindGroupCache();
    results.push({ method, views, batch: B, source: [S, S], timing });
  }
  return {
    what: "upload of a uint8 batch + the method's random views on the GPU (crop, resize, " +
      "flip, colour jitter, gray, blur, solarize, normalize), images/s of source images",
    results,
  };
}

if (import.meta.main) {
  const images = Deno.args[0] && !Deno.args[0].startsWith("--") ? Number(Deno.args[0]) : undefined;
  if (!Deno.args.includes("--views-only")) {
    console.log(JSON.stringify(await benchLoader({ images }), null, 2));
  }
  console.log(JSON.stringify(await benchViews({ log: console.error }), null, 2));
}
