/**
 * Built-in sample data, generated procedurally (no download): small RGB PNG images of a few
 * pattern classes (stripes at several angles, checkerboards, rings, blobs) with a random dark
 * and light colour, phase, frequency and noise, written into class sub-folders so kNN accuracy can be measured.
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { encodePng } from "../core/logging/png.ts";

/** The classes, in label order. */
export const SAMPLE_CLASSES: readonly string[] = [
  "stripes_h",
  "stripes_v",
  "stripes_d",
  "checker",
  "rings",
  "blobs",
];

/** One sample image as RGB bytes (HWC) and its label. */
export function sampleImage(rng: Rng, cls: number, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  // A dark and a light colour of random tint: the class lives in the pattern, not the colour.
  const tint = () => [rng.uniform(0.6, 1), rng.uniform(0.6, 1), rng.uniform(0.6, 1)];
  const dark = rng.uniform(0, 90), light = rng.uniform(160, 255);
  const c0 = tint().map((t) => t * dark), c1 = tint().map((t) => t * light);
  const freq = rng.uniform(0.25, 0.6) * (32 / size) * 2;
  const phase = rng.uniform(0, 2 * Math.PI);
  const cx = rng.uniform(0.3, 0.7) * size, cy = rng.uniform(0.3, 0.7) * size;
  const blobs = Array.from({ length: 4 }, () => [rng.uniform(0, size), rng.uniform(0, size)]);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v: number;
      switch (SAMPLE_CLASSES[cls]) {
        case "stripes_h":
          v = Math.sin(freq * y * 3 + phase);
          break;
        case "stripes_v":
          v = Math.sin(freq * x * 3 + phase);
          break;
        case "stripes_d":
          v = Math.sin(freq * (x + y) * 2.1 + phase);
          break;
        case "checker":
          v = Math.sin(freq * x * 3 + phase) * Math.sin(freq * y * 3 + phase) * 2;
          break;
        case "rings":
          v = Math.sin(Math.hypot(x - cx, y - cy) * freq * 3 + phase);
          break;
        default: {
          let m = Infinity;
          for (const [bx, by] of blobs) m = Math.min(m, Math.hypot(x - bx, y - by));
          v = m < size / 8 ? 1 : -1;
        }
      }
      const t = Math.max(0, Math.min(1, (v + 1) / 2 + rng.uniform(-0.15, 0.15)));
      const k = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) px[k + ch] = Math.round(c0[ch] * (1 - t) + c1[ch] * t);
    }
  }
  return px;
}

/**
 * Writes `perClass` PNG images of every class into `dir/<class>/NNNN.png` (size x size) and
 * returns the file count. Deterministic for a seed.
 */
export async function writeSampleImages(
  dir: string,
  perClass: number,
  size = 32,
  seed = 0,
): Promise<number> {
  const rng = new Rng(seed);
  let n = 0;
  for (let c = 0; c < SAMPLE_CLASSES.length; c++) {
    const sub = `${dir}/${SAMPLE_CLASSES[c]}`;
    await Deno.mkdir(sub, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const png = encodePng(sampleImage(rng, c, size), size, size, 3);
      await Deno.writeFile(`${sub}/${String(i).padStart(4, "0")}.png`, png);
      n++;
    }
  }
  return n;
}
