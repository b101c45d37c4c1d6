/**
 * Loader throughput: writes a folder of synthetic 512x512 JPEGs (smooth gradients, shapes and
 * grain, quality 90) to a temp dir with sharp, then times one epoch of the image loader at
 * working size 224 (`crop`: shorter side to 224, centre crop) for several worker counts.
 * Measures decode + resize + batch assembly on the CPU only: the GPU views (transforms/) are
 * not part of it, and the consumer does no work, so this is the loader's ceiling.
 *
 * `deno run --allow-read --allow-write --allow-env --allow-ffi bench/loader_bench.ts [images]`
 *
 * @module
 */
import process from "node:process";
import { createLoader, defaultWorkers } from "../data/loader.ts";
import { loadSharp } from "../data/sharp.ts";

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

if (import.meta.main) {
  const images = Deno.args[0] ? Number(Deno.args[0]) : undefined;
  console.log(JSON.stringify(await benchLoader({ images }), null, 2));
}
