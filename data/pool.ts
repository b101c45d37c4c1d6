/**
 * A pool of Deno Web Workers that read and decode images with sharp, so decoding runs beside
 * the training loop. Requests are served first in, first out; each worker keeps up to
 * `inflight` images in progress (sharp runs them on native threads, the worker's own thread
 * only copies bytes). `workers: 0` decodes in this thread (sharp still works off-thread).
 *
 * A bad image rejects its promise with an {@link ImageDecodeError}; a broken pool (sharp cannot
 * load, a worker dies) rejects everything with a plain Error, which must end the run.
 *
 * @module
 */
import { type DecodedImage, decodeFile, type DecodeOptions, ImageDecodeError } from "./decode.ts";
import { loadSharp } from "./sharp.ts";

/** Options of {@link DecodePool}. */
export interface PoolOptions {
  /** Worker count; 0 decodes in the calling thread. */
  workers: number;
  /** Images in progress per worker (or in total when `workers` is 0); default 2. */
  inflight?: number;
  /** What to decode to. */
  decode: DecodeOptions;
}

/** Marks requests that are no longer wanted: queued ones are dropped instead of decoded. */
export interface CancelToken {
  /** Set to true to cancel. */
  cancelled: boolean;
}

/** The rejection of a cancelled request. */
export class CancelledError extends Error {
  override name = "CancelledError";
}

interface Task {
  id: number;
  path: string;
  token?: CancelToken;
  resolve: (img: DecodedImage) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker | null;
  busy: number;
  ready: Promise<void>;
}

/** Decodes files on a pool of workers. */
export class DecodePool {
  /** Sum of per-image decode time (read + decode + resize) in ms, as the workers measured it. */
  decodeMs = 0;
  /** Images decoded (good and bad). */
  decoded = 0;
  readonly #opts: PoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  readonly #running = new Map<number, [Task, Slot]>();
  #nextId = 0;
  #fatal: Error | null = null;
  #closed = false;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
    const n = Math.max(0, Math.floor(opts.workers));
    if (n === 0) {
      this.#slots.push({ worker: null, busy: 0, ready: loadSharp().then(() => {}) });
      this.#slots[0].ready.catch((e) => this.#fail(e));
    }
    for (let i = 0; i < n; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
    const slot: Slot = { worker, busy: 0, ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        const m = e.data;
        if (m.type === "ready") return resolve();
        if (m.type === "fatal") {
          const err = new Error(m.error);
          reject(err);
          return this.#fail(err);
        }
        const entry = this.#running.get(m.id);
        if (!entry) return;
        this.#running.delete(m.id);
        slot.busy--;
        this.decodeMs += m.ms;
        this.decoded++;
        if (m.type === "done") entry[0].resolve(m.image);
        else entry[0].reject(new ImageDecodeError(m.error));
        this.#pump();
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        const err = new Error(`decode worker failed: ${e.message}`);
        reject(err);
        this.#fail(err);
      };
    });
    slot.ready.catch(() => {});
    worker.postMessage({ type: "init", opts: this.#opts.decode });
    return slot;
  }

  /** Resolves once every worker has loaded sharp; rejects with the reason one could not. */
  async ready(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.ready));
    if (this.#fatal) throw this.#fatal;
  }

  /** Decodes the file at `path`; a cancelled `token` drops the request if not yet started. */
  decode(path: string, token?: CancelToken): Promise<DecodedImage> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new Error("decode pool is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, path, token, resolve, reject });
      this.#pump();
    });
  }

  /** Requests waiting or in progress. */
  get pending(): number {
    return this.#queue.length + this.#running.size;
  }

  #pump(): void {
    const limit = this.#opts.inflight ?? 2;
    while (this.#queue.length && !this.#fatal) {
      let best: Slot | null = null;
      for (const s of this.#slots) if (s.busy < limit && (!best || s.busy < best.busy)) best = s;
      if (!best) return;
      const task = this.#queue.shift()!;
      if (task.token?.cancelled) {
        task.reject(new CancelledError("cancelled"));
        continue;
      }
      best.busy++;
      this.#running.set(task.id, [task, best]);
      if (best.worker) best.worker.postMessage({ type: "decode", id: task.id, path: task.path });
      else this.#runLocal(task, best);
    }
  }

  async #runLocal(task: Task, slot: Slot): Promise<void> {
    const t0 = performance.now();
    try {
      await slot.ready;
      const img = await decodeFile(task.path, this.#opts.decode);
      if (this.#running.delete(task.id)) task.resolve(img);
    } catch (e) {
      if (this.#running.delete(task.id)) {
        task.reject(e instanceof ImageDecodeError ? e : new Error(String(e)));
      }
    } finally {
      slot.busy--;
      this.decodeMs += performance.now() - t0;
      this.decoded++;
      this.#pump();
    }
  }

  #fail(e: Error): void {
    if (this.#fatal) return;
    this.#fatal = e;
    for (const [t] of this.#running.values()) t.reject(e);
    this.#running.clear();
    for (const t of this.#queue.splice(0)) t.reject(e);
  }

  /** Stops the workers; requests still pending are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots) s.worker?.terminate();
    const err = new Error("decode pool is closed");
    for (const [t] of this.#running.values()) t.reject(err);
    this.#running.clear();
    for (const t of this.#queue.splice(0)) t.reject(err);
  }
}
