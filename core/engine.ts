/**
 * The GPU work queue: a size-bucketed buffer pool, one open command encoder that ops append
 * compute dispatches to, a uniform arena written once per submit, uploads and readbacks.
 *
 * Ordering rule: `queue.writeBuffer` runs before any command buffer not yet submitted, so every
 * upload first submits the pending encoder. Readbacks are the only waits for the GPU.
 *
 * @module
 */
import { device, GpuError } from "./device.ts";

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;
const ARENA_BYTES = 1 << 18;
const UNIFORM_ALIGN = 256;

/** Rounds a byte size up to its pool bucket: 4 buckets per power of two, at least 256 bytes. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/** Byte counters of the pool: what tensors hold, what waits for reuse, what the GPU holds. */
export interface PoolStats {
  /** Bytes in buffers owned by live tensors. */
  liveBytes: number;
  /** Bytes in free buffers waiting for reuse. */
  freeBytes: number;
  /** Number of buffers ever created. */
  created: number;
  /** Most bytes held by live tensors at once since the pool began or {@link BufferPool.resetPeak}. */
  peakLiveBytes: number;
}

/**
 * A size-bucketed pool of storage buffers. Buffers return to it explicitly, never via GC.
 * A bucket hands out its oldest free buffer first, so which buffer an op gets depends only on
 * which buffers are free, not on the order they were released: a fixed-shape step then gets
 * the same buffers every time (and finds its cached bind groups).
 */
export class BufferPool {
  // Free buffers per bucket, newest first (the oldest is popped from the end).
  #free = new Map<number, GPUBuffer[]>();
  #ids = new WeakMap<GPUBuffer, number>();
  #nextId = 0;
  #stats: PoolStats = { liveBytes: 0, freeBytes: 0, created: 0, peakLiveBytes: 0 };

  /** A buffer of at least `bytes` bytes; `op` names the caller for the over-limit error. */
  acquire(bytes: number, op = "alloc"): GPUBuffer {
    const dev = device();
    const size = bucketSize(Math.max(bytes, 4));
    if (size > dev.gpu.limits.maxBufferSize) {
      throw new GpuError(
        `${op}: a buffer of ${bytes} bytes exceeds the device's maxBufferSize ` +
          `(${dev.gpu.limits.maxBufferSize}); use a smaller batch or image size.`,
      );
    }
    const list = this.#free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.#stats.freeBytes -= size;
    } else {
      dev.assertAlive();
      buf = dev.gpu.createBuffer({ size, usage: STORAGE_USAGE, label: op });
      this.#ids.set(buf, this.#nextId++);
      this.#stats.created++;
    }
    this.#stats.liveBytes += size;
    if (this.#stats.liveBytes > this.#stats.peakLiveBytes) {
      this.#stats.peakLiveBytes = this.#stats.liveBytes;
    }
    return buf;
  }

  /** Returns a buffer obtained from {@link acquire} to the pool. */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    const id = this.#ids.get(buf)!;
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#ids.get(list[mid])! > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buf);
    this.#stats.liveBytes -= size;
    this.#stats.freeBytes += size;
  }

  /** Destroys all free buffers (live ones are untouched). */
  trim(): void {
    // Work already encoded may still use a free buffer: submit it first (destroy waits for it).
    flush();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#stats.freeBytes = 0;
  }

  /** Starts a new high-water mark: `peakLiveBytes` becomes the current `liveBytes`. */
  resetPeak(): void {
    this.#stats.peakLiveBytes = this.#stats.liveBytes;
  }

  /** A snapshot of the byte counters. */
  stats(): PoolStats {
    return { ...this.#stats };
  }
}

/** The process-wide pool. */
export const pool: BufferPool = new BufferPool();

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
const arenaCpu = new ArrayBuffer(ARENA_BYTES);
let arenaUsed = 0;
let arenaGpu: GPUBuffer | null = null;
let dispatches = 0;

function getEncoder(): GPUCommandEncoder {
  if (!encoder) encoder = device().gpu.createCommandEncoder();
  return encoder;
}

/**
 * The open compute pass of the pending encoder (one pass holds many dispatches). While a
 * {@link startProfile} is active each dispatch gets its own pass with timestamps; `label`
 * names the kernel in the profile.
 */
export function computePass(label = "unnamed"): GPUComputePassEncoder {
  if (profiler) {
    pass?.end();
    const i = profiler.names.length;
    const timed = i < PROFILE_SLOTS;
    if (timed) profiler.names.push(label);
    pass = getEncoder().beginComputePass(
      timed
        ? {
          timestampWrites: {
            querySet: profiler.queries,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          },
        }
        : {},
    );
    if (!timed) profiler.untimed++;
    return pass;
  }
  if (!pass) pass = getEncoder().beginComputePass();
  return pass;
}

// Kernel profiling with timestamp queries: one slot per dispatch of a submit (at most 512).
const PROFILE_SLOTS = 600;
interface Profiler {
  queries: GPUQuerySet;
  resolve: GPUBuffer;
  names: string[];
  untimed: number;
  pending: Promise<void>[];
  totals: Map<string, { calls: number; ns: number }>;
}
let profiler: Profiler | null = null;

/** Per-kernel GPU time of a {@link stopProfile}d interval. */
export interface ProfileRow {
  /** Kernel name. */
  name: string;
  /** Dispatches. */
  calls: number;
  /** GPU milliseconds, summed over the dispatches. */
  ms: number;
}

/**
 * Starts timing every dispatch on the GPU (needs `timestamp-query`; one pass per dispatch, so
 * a profiled run is slower than a plain one). Stop with {@link stopProfile}.
 */
export function startProfile(): void {
  const dev = device();
  if (!dev.gpu.features.has("timestamp-query")) {
    throw new GpuError("profiling needs the adapter feature timestamp-query");
  }
  flush();
  profiler = {
    queries: dev.gpu.createQuerySet({ type: "timestamp", count: 2 * PROFILE_SLOTS }),
    resolve: dev.gpu.createBuffer({
      size: 16 * PROFILE_SLOTS,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    }),
    names: [],
    untimed: 0,
    pending: [],
    totals: new Map(),
  };
}

function collectProfile(p: Profiler, enc: GPUCommandEncoder): void {
  const n = p.names.length;
  if (!n) return;
  const names = p.names.splice(0);
  const read = device().gpu.createBuffer({
    size: 16 * n,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  enc.resolveQuerySet(p.queries, 0, 2 * n, p.resolve, 0);
  enc.copyBufferToBuffer(p.resolve, 0, read, 0, 16 * n);
  p.pending.push((async () => {
    await Promise.resolve(); // mapped after the submit that follows
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.destroy();
    names.forEach((name, i) => {
      const row = p.totals.get(name) ?? { calls: 0, ns: 0 };
      row.calls++;
      row.ns += Number(t[2 * i + 1] - t[2 * i]);
      p.totals.set(name, row);
    });
  })());
}

/** Stops profiling; per-kernel GPU time since {@link startProfile}, largest first. */
export async function stopProfile(): Promise<{ rows: ProfileRow[]; untimed: number }> {
  const p = profiler;
  if (!p) throw new GpuError("stopProfile: no profile running");
  flush();
  profiler = null;
  await Promise.all(p.pending);
  p.queries.destroy();
  p.resolve.destroy();
  const rows = [...p.totals].map(([name, r]) => ({ name, calls: r.calls, ms: r.ns / 1e6 }))
    .sort((a, b) => b.ms - a.ms);
  return { rows, untimed: p.untimed };
}

/** The pending encoder with no pass open, for copies. */
export function copyEncoder(): GPUCommandEncoder {
  if (pass) {
    pass.end();
    pass = null;
  }
  return getEncoder();
}

/**
 * Copies a uniform block into the arena and returns its binding; submits first if the arena
 * is full. The arena reaches the GPU with one `writeBuffer` just before the submit.
 */
export function uniformBinding(data: ArrayBuffer): GPUBufferBinding {
  const dev = device();
  if (!arenaGpu) {
    arenaGpu = dev.gpu.createBuffer({
      size: ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "uniform-arena",
    });
  }
  const size = Math.ceil(data.byteLength / 16) * 16;
  if (arenaUsed + size > ARENA_BYTES) flush();
  const offset = arenaUsed;
  new Uint8Array(arenaCpu, offset, data.byteLength).set(new Uint8Array(data));
  arenaUsed = Math.ceil((offset + size) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
  return { buffer: arenaGpu, offset, size };
}

/** Counts dispatches; long queues are submitted so the GPU starts early. */
export function noteDispatch(): void {
  if (++dispatches >= 512) flush();
}

/** Submits all pending work (no wait). */
export function flush(): void {
  if (!encoder) return;
  const dev = device();
  if (pass) {
    pass.end();
    pass = null;
  }
  if (arenaUsed > 0 && arenaGpu) {
    dev.gpu.queue.writeBuffer(arenaGpu, 0, arenaCpu, 0, arenaUsed);
  }
  if (profiler) collectProfile(profiler, encoder);
  dev.gpu.queue.submit([encoder.finish()]);
  encoder = null;
  arenaUsed = 0;
  dispatches = 0;
}

/** Writes host data into a GPU buffer, after submitting pending work that might read it. */
export function upload(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
  flush();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // writeBuffer needs a multiple of 4 bytes.
  const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
    const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    p.set(bytes);
    return p;
  })();
  device().gpu.queue.writeBuffer(buf, byteOffset, padded as Uint8Array<ArrayBuffer>);
}

/** Reads `bytes` bytes of a buffer back to the host: the one place that waits for the GPU. */
export async function readBuffer(
  buf: GPUBuffer,
  bytes: number,
  byteOffset = 0,
): Promise<ArrayBuffer> {
  const dev = device();
  const size = Math.ceil(bytes / 4) * 4;
  const staging = dev.gpu.createBuffer({
    size: Math.max(size, 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  copyEncoder().copyBufferToBuffer(buf, byteOffset, staging, 0, size);
  flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    await dev.check();
    throw new GpuError(`readback failed: ${(e as Error).message}`);
  }
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  await dev.check();
  return out;
}

/** Waits until the GPU has finished all submitted work, then throws any pending GPU error. */
export async function sync(): Promise<void> {
  flush();
  const dev = device();
  await dev.gpu.queue.onSubmittedWorkDone();
  await dev.check();
}
