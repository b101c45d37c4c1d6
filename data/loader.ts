/**
 * The image loader: a dataset of image files in, fixed-shape uint8 batches out, ready to
 * upload (`transforms/batch.ts` `uploadU8Batch(batch.images, batch.shape, batch.sizes)`).
 *
 * - Files: {@link listImages} (a folder walked recursively or a list; stable sorted order).
 * - Decoding: {@link DecodePool} workers with sharp, at a working size `S` and a resize
 *   policy (see `decode.ts`); `prefetch` batches are decoded ahead while the GPU works.
 * - Order: a seeded shuffle per epoch (`Rng(seed, epoch)`, Fisher-Yates), so epoch `e` is the
 *   same whether the run started at 0 or resumed at `e`; `dropLast` drops a partial last batch.
 * - Bad images (corrupt, truncated, unreadable) never end a run: each is reported once
 *   through `onBadImage`, replaced in its batch by another image of the same batch (so
 *   shapes stay fixed), skipped without decoding in later epochs, and listed in
 *   {@link ImageLoader.summary}. A dataset with no images, or none that decodes, is an error
 *   when the loader is created, before any training.
 * - Timing: each batch carries the consumer's wait; {@link ImageLoader.timing} gives the
 *   data-wait share of step time, overall or per logging interval.
 *
 * ```ts
 * const loader = await createLoader({ data: "images/", batchSize: 64, size: 256, seed: 0 });
 * for await (const b of loader.batches({ epochs: 100 })) {
 *   const gpu = uploadU8Batch(b.images, b.shape, b.sizes);
 *   // ... views, step; every N steps: log(loader.timing(true).dataWait)
 * }
 * console.log(loader.formatSummary());
 * loader.close();
 * ```
 *
 * Permissions: `--allow-read --allow-env --allow-ffi` (sharp is a native addon).
 *
 * @module
 */
import { Rng } from "../core/random.ts";
import { ImageCache } from "./cache.ts";
import {
  checkDecodeOptions,
  type DecodedImage,
  type DecodeOptions,
  ImageDecodeError,
  type ResizeKernel,
  type ResizeMode,
} from "./decode.ts";
import { DataError, IMAGE_EXTENSIONS, type ImageFile, listImages } from "./files.ts";
import { CancelledError, type CancelToken, DecodePool } from "./pool.ts";
import { DataWaitMeter, type LoaderTiming } from "./timing.ts";
import {
  arrayImageName,
  type DataSpec,
  describeData,
  type ImageArray,
  openImageArray,
} from "./array.ts";

/** Options of {@link createLoader}. */
export interface LoaderOptions {
  /**
   * A folder (walked recursively), a list of image files and folders, an IDX images file or an
   * {@link ImageArray}. Array data is used at its own size: `size`, `resize`, `kernel`,
   * `channels`, `workers` and `cacheBytes` do not apply (its channels must equal `channels`).
   */
  data: DataSpec;
  /** Images per batch. */
  batchSize: number;
  /** Working size `S`: every batch is `[B, S, S, C]`; default 256. */
  size?: number;
  /** Resize policy (see `decode.ts`); default `fit`. */
  resize?: ResizeMode;
  /** Channels per pixel, 1-4; default 3 (gray repeated, alpha dropped). */
  channels?: number;
  /** Resampling kernel of the resize; default `lanczos3`. */
  kernel?: ResizeKernel;
  /** Decode truncated files as far as they go instead of skipping them; default false. */
  allowTruncated?: boolean;
  /** Decode workers; 0 decodes in this thread; default {@link defaultWorkers}. */
  workers?: number;
  /** Images in progress per worker; default 2. */
  inflight?: number;
  /** Batches decoded ahead of the one being consumed; default 2. */
  prefetch?: number;
  /** Shuffle every epoch; default true. */
  shuffle?: boolean;
  /** Seed of the shuffle; default 0. */
  seed?: number;
  /** Drop the last batch when it is not full; default true. */
  dropLast?: boolean;
  /** Bytes of decoded images to keep in memory (0: no cache); default 0. */
  cacheBytes?: number;
  /** Accepted file extensions; default {@link IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
  /** Called once per bad image, when it is first met. */
  onBadImage?: (bad: BadImage) => void;
  /** Called with non-fatal dataset warnings (broken links, unreadable sub-folders). */
  onWarning?: (message: string) => void;
}

/** An image that could not be used. */
export interface BadImage {
  /** Index in {@link ImageLoader.files}. */
  index: number;
  /** Name relative to the data folder. */
  name: string;
  /** Path that was opened. */
  path: string;
  /** Why (decoder or file system message). */
  error: string;
}

/** A slot of a batch whose image was bad and got replaced. */
export interface Substitution {
  /** Position in the batch. */
  position: number;
  /** The bad image's index. */
  index: number;
  /** The bad image's name. */
  name: string;
  /** Index of the image copied into the slot instead. */
  substitute: number;
}

/** One batch, ready to upload. */
export interface Batch {
  /** `B * H * W * C` bytes: HWC per image, images one after another. */
  images: Uint8Array;
  /** `[B, H, W, C]` (`H = W = S`). */
  shape: [number, number, number, number];
  /** Valid `[h, w]` of each image, top-left in its slot (smaller than `S` in `fit` mode). */
  sizes: [number, number][];
  /** Dataset index of the image in each slot (after substitution). */
  indices: number[];
  /** Name of the image in each slot (after substitution). */
  filenames: string[];
  /** Slots whose own image was bad. */
  substituted: Substitution[];
  /** Epoch of this batch. */
  epoch: number;
  /** Step within the epoch (0-based). */
  step: number;
  /** How long the consumer waited for this batch, ms. */
  waitMs: number;
}

/** End-of-run report. */
export interface LoaderSummary {
  /** Images in the dataset. */
  images: number;
  /** Bad images and how often each was substituted. */
  badImages: (BadImage & { substitutions: number })[];
  /** Slots filled with a substitute over the run. */
  substitutions: number;
  /** Images decoded by the pool (good and bad). */
  decoded: number;
  /** Sum of per-image decode time, ms (on the workers, so it may exceed wall time). */
  decodeMs: number;
  /** Cache use. */
  cache: { images: number; bytes: number; budget: number; hits: number; misses: number };
  /** Data wait over the run. */
  timing: LoaderTiming;
}

/** LightlyTrain's default worker count: CPUs - 1, at least 1, at most 8. */
export function defaultWorkers(): number {
  const cpus = navigator.hardwareConcurrency || 9;
  return Math.min(8, Math.max(1, cpus - 1));
}

/** A seeded permutation of `0..n-1` for `epoch` (Fisher-Yates on {@link Rng}). */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77)) >>> 0);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

interface Plan {
  epoch: number;
  step: number;
  indices: number[];
}

type Slot = DecodedImage | null;

/**
 * Lists the dataset, starts the decode workers and checks that at least one image decodes.
 * Throws {@link DataError} for a missing folder, no images, or no image that decodes.
 */
export async function createLoader(opts: LoaderOptions): Promise<ImageLoader> {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  const decode: DecodeOptions = {
    size: opts.size ?? 256,
    resize: opts.resize ?? "fit",
    channels: opts.channels ?? 3,
    kernel: opts.kernel,
    allowTruncated: opts.allowTruncated ?? false,
  };
  checkDecodeOptions(decode);
  const array = await openImageArray(opts.data);
  if (array) {
    if (opts.channels !== undefined && opts.channels !== array.channels) {
      throw new DataError(
        `${describeData(array)} has ${array.channels} channel(s) but ${opts.channels} were ` +
          `asked for (set transform_args.num_channels=${array.channels})`,
      );
    }
    checkBatch(array.count, opts);
    const files = Array.from({ length: array.count }, (_, i) => {
      const name = arrayImageName(array, i);
      return { path: name, name };
    });
    const size = Math.max(array.height, array.width);
    return new ImageLoader(files, { ...decode, size, channels: array.channels }, null, opts, array);
  }
  const list = await listImages(opts.data as string | readonly string[], {
    extensions: opts.extensions,
  });
  for (const w of list.warnings) opts.onWarning?.(w);
  checkBatch(list.files.length, opts);
  const workers = opts.workers ?? defaultWorkers();
  const pool = new DecodePool({
    workers,
    inflight: opts.inflight ?? (workers ? 2 : 2 * defaultWorkers()),
    decode,
  });
  const loader = new ImageLoader(list.files, decode, pool, opts);
  try {
    await pool.ready();
    await loader.probe();
  } catch (e) {
    loader.close();
    throw e;
  }
  return loader;
}

function checkBatch(n: number, opts: LoaderOptions): void {
  if ((opts.dropLast ?? true) && n < opts.batchSize) {
    throw new DataError(
      `${n} images in ${describeData(opts.data)}: fewer than one batch of ${opts.batchSize} ` +
        `(lower batchSize or set dropLast false)`,
    );
  }
}

/** Batches of decoded images over epochs. Create with {@link createLoader}. */
export class ImageLoader implements AsyncDisposable {
  /** The dataset, in stable order (indices refer to it). */
  readonly files: readonly ImageFile[];
  /** Batch size. */
  readonly batchSize: number;
  /** Working size `S`. */
  readonly size: number;
  /** Channels per pixel. */
  readonly channels: number;
  readonly #decode: DecodeOptions;
  readonly #pool: DecodePool | null;
  readonly #array: ImageArray | null;
  readonly #opts: LoaderOptions;
  readonly #cache: ImageCache;
  readonly #meter = new DataWaitMeter();
  readonly #bad = new Map<number, BadImage & { substitutions: number }>();
  readonly #inflight = new Map<number, Promise<Slot>>();
  #fallback: { index: number; image: DecodedImage } | null = null;
  #substitutions = 0;

  /** Use {@link createLoader}. */
  constructor(
    files: readonly ImageFile[],
    decode: DecodeOptions,
    pool: DecodePool | null,
    opts: LoaderOptions,
    array: ImageArray | null = null,
  ) {
    this.files = files;
    this.batchSize = opts.batchSize;
    this.size = decode.size;
    this.channels = decode.channels ?? 3;
    this.#decode = decode;
    this.#pool = pool;
    this.#array = array;
    this.#opts = opts;
    this.#cache = new ImageCache(opts.cacheBytes ?? 0);
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const n = this.files.length, b = this.batchSize;
    return (this.#opts.dropLast ?? true) ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Finds a first image that decodes (kept as the substitute of last resort). @internal */
  async probe(): Promise<void> {
    // The first image alone (the usual case: it is good), then 8 at a time.
    for (let i = 0; i < this.files.length && !this.#fallback; i += i ? 8 : 1) {
      const idx = [...Array(Math.min(i ? 8 : 1, this.files.length - i)).keys()].map((k) => i + k);
      const got = await Promise.all(idx.map((j) => this.#image(j)));
      const k = got.findIndex((g) => g !== null);
      if (k >= 0) this.#fallback = { index: idx[k], image: got[k]! };
    }
    if (!this.#fallback) {
      const first = [...this.#bad.values()].slice(0, 3).map((b) => `${b.name}: ${b.error}`);
      throw new DataError(
        `none of the ${this.files.length} images in ${
          describeData(this.#opts.data)
        } could be decoded (accepted extensions: ${
          (this.#opts.extensions ?? IMAGE_EXTENSIONS).join(" ")
        }); first errors: ${first.join("; ")}`,
      );
    }
  }

  /** The plan (image indices per step) of one epoch. */
  epochPlan(epoch: number): number[][] {
    const n = this.files.length, b = this.batchSize;
    const order = (this.#opts.shuffle ?? true)
      ? epochOrder(n, this.#opts.seed ?? 0, epoch)
      : Uint32Array.from({ length: n }, (_, i) => i);
    const out: number[][] = [];
    for (let s = 0; s < this.batchesPerEpoch; s++) {
      out.push(Array.from(order.subarray(s * b, Math.min(n, (s + 1) * b))));
    }
    return out;
  }

  /** The batches of one epoch, from step `startStep` (for resuming mid-epoch). */
  epoch(epoch: number, startStep = 0): AsyncGenerator<Batch> {
    return this.batches({ startEpoch: epoch, startStep, epochs: 1 });
  }

  /**
   * Batches over consecutive epochs (forever unless `epochs` is given), decoding ahead across
   * epoch boundaries. Stop early with `break`; pending decodes are then dropped.
   */
  batches(
    range: { startEpoch?: number; startStep?: number; epochs?: number } = {},
  ): AsyncGenerator<Batch> {
    const start = range.startEpoch ?? 0, end = start + (range.epochs ?? Infinity);
    const startStep = range.startStep ?? 0;
    const planOf = (e: number) => this.epochPlan(e);
    function* plans(): Generator<Plan> {
      for (let e = start; e < end; e++) {
        const plan = planOf(e);
        if (!plan.length) return;
        for (let s = e === start ? startStep : 0; s < plan.length; s++) {
          yield { epoch: e, step: s, indices: plan[s] };
        }
      }
    }
    return this.#stream(plans());
  }

  async *#stream(plans: Iterator<Plan>): AsyncGenerator<Batch> {
    const token: CancelToken = { cancelled: false };
    const ahead: Promise<Batch>[] = [];
    const prefetch = Math.max(0, this.#opts.prefetch ?? 2);
    const fill = (depth: number) => {
      while (ahead.length < depth) {
        const next = plans.next();
        if (next.done) return;
        const p = this.#load(next.value, token);
        p.catch(() => {}); // awaited later; avoid an unhandled rejection meanwhile
        ahead.push(p);
      }
    };
    this.#meter.restart();
    try {
      for (;;) {
        const t0 = performance.now();
        fill(1);
        const p = ahead.shift();
        if (!p) return;
        fill(prefetch); // decode the next `prefetch` batches while this one is consumed
        const batch = await p;
        const t1 = performance.now();
        batch.waitMs = t1 - t0;
        this.#meter.record(batch.waitMs, t1);
        yield batch;
      }
    } finally {
      token.cancelled = true;
    }
  }

  /**
   * The decoded image `i`, from the cache, a decode already in flight (prefetch can ask for
   * an image twice across an epoch boundary), or the pool; `null` when it is bad.
   */
  #image(i: number, token?: CancelToken): Promise<Slot> {
    if (this.#bad.has(i)) return Promise.resolve(null);
    const a = this.#array;
    if (a) {
      const px = a.height * a.width * a.channels;
      return Promise.resolve({
        data: a.images.subarray(i * px, (i + 1) * px) as Uint8Array<ArrayBuffer>,
        width: a.width,
        height: a.height,
        channels: a.channels,
      });
    }
    const hit = this.#cache.get(i);
    if (hit) return Promise.resolve(hit);
    let p = this.#inflight.get(i);
    if (!p) {
      p = this.#decodeOne(i, token);
      this.#inflight.set(i, p);
      const drop = () => this.#inflight.delete(i);
      p.then(drop, drop);
    }
    // A shared decode dropped because its first requester stopped: ask again.
    return p.catch((e) => {
      if (e instanceof CancelledError && !token?.cancelled) return this.#image(i, token);
      throw e;
    });
  }

  async #decodeOne(i: number, token?: CancelToken): Promise<Slot> {
    try {
      const img = await this.#pool!.decode(this.files[i].path, token);
      this.#cache.put(i, img);
      return img;
    } catch (e) {
      if (!(e instanceof ImageDecodeError)) throw e;
      if (!this.#bad.has(i)) {
        const bad = { index: i, ...this.files[i], error: e.message, substitutions: 0 };
        this.#bad.set(i, bad);
        this.#opts.onBadImage?.({ index: i, name: bad.name, path: bad.path, error: bad.error });
      }
      return null;
    }
  }

  async #load(plan: Plan, token: CancelToken): Promise<Batch> {
    const got = await Promise.all(plan.indices.map((i) => this.#image(i, token)));
    const B = got.length, S = this.size, C = this.channels;
    const images = new Uint8Array(B * S * S * C);
    const indices = plan.indices.slice();
    const sizes: [number, number][] = [];
    const substituted: Substitution[] = [];
    for (let j = 0; j < B; j++) {
      let img = got[j];
      if (!img) {
        let k = 1;
        while (k < B && !got[(j + k) % B]) k++;
        const sub = k < B ? (j + k) % B : -1;
        img = sub >= 0 ? got[sub]! : this.#fallback!.image;
        const bad = this.#bad.get(plan.indices[j])!;
        bad.substitutions++;
        this.#substitutions++;
        indices[j] = sub >= 0 ? plan.indices[sub] : this.#fallback!.index;
        substituted.push({
          position: j,
          index: plan.indices[j],
          name: bad.name,
          substitute: indices[j],
        });
      }
      place(images, j, S, C, img);
      sizes.push([img.height, img.width]);
    }
    return {
      images,
      shape: [B, S, S, C],
      sizes,
      indices,
      filenames: indices.map((i) => this.files[i].name),
      substituted,
      epoch: plan.epoch,
      step: plan.step,
      waitMs: 0,
    };
  }

  /**
   * Data-wait timing: over the whole run, or (`interval`) since the last interval call, for a
   * per-log-step `data_wait`.
   */
  timing(interval = false): LoaderTiming {
    return interval ? this.#meter.interval() : this.#meter.total();
  }

  /** The bad images met so far. */
  get badImages(): BadImage[] {
    return [...this.#bad.values()].map(({ index, name, path, error }) => ({
      index,
      name,
      path,
      error,
    }));
  }

  /** What happened over the run: bad images, substitutions, cache, decode and wait times. */
  summary(): LoaderSummary {
    const c = this.#cache;
    return {
      images: this.files.length,
      badImages: [...this.#bad.values()].map((b) => ({ ...b })),
      substitutions: this.#substitutions,
      decoded: this.#pool?.decoded ?? 0,
      decodeMs: this.#pool?.decodeMs ?? 0,
      cache: { images: c.size, bytes: c.bytes, budget: c.budget, hits: c.hits, misses: c.misses },
      timing: this.#meter.total(),
    };
  }

  /** {@link summary} as text lines for a log. */
  formatSummary(): string {
    const s = this.summary();
    const lines = [
      `data: ${s.images} images, ${s.badImages.length} bad (${s.substitutions} slots substituted)`,
      `data wait: ${(100 * s.timing.dataWait).toFixed(1)}% of step time over ${s.timing.batches} ` +
      `steps (first batch ${s.timing.firstBatchMs.toFixed(0)} ms)`,
    ];
    if (s.cache.budget) {
      lines.push(
        `cache: ${s.cache.images} images, ${(s.cache.bytes / 2 ** 20).toFixed(1)} MiB of ` +
          `${(s.cache.budget / 2 ** 20).toFixed(1)} MiB, ${s.cache.hits} hits`,
      );
    }
    for (const b of s.badImages) lines.push(`bad image: ${b.name}: ${b.error}`);
    return lines.join("\n");
  }

  /** The labels of an array dataset that has them, else null. */
  get labels(): Int32Array | null {
    return this.#array?.labels ?? null;
  }

  /** The decode options in force. */
  get decodeOptions(): Readonly<DecodeOptions> {
    return this.#decode;
  }

  /** Stops the workers. */
  close(): void {
    this.#pool?.close();
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Copies `img` (h x w x C) into slot `j` of an `[B, S, S, C]` batch, top-left. */
function place(dst: Uint8Array, j: number, S: number, C: number, img: DecodedImage): void {
  const base = j * S * S * C;
  if (img.width === S) {
    dst.set(img.data, base);
    return;
  }
  const row = img.width * C;
  for (let y = 0; y < img.height; y++) {
    dst.set(img.data.subarray(y * row, (y + 1) * row), base + y * S * C);
  }
}
