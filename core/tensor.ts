/**
 * Tensors: a pooled GPU buffer plus shape and dtype, contiguous, row-major.
 *
 * Ownership is explicit. A tensor holds one reference to its storage when created; the autograd
 * tape takes more while it needs a tensor for backward. `dispose()` drops the creator's
 * reference; the buffer goes back to the pool when the last reference is gone. `tidy(fn)`
 * disposes every tensor made inside `fn` except those it returns or {@link keep}s.
 *
 * @module
 */
import { pool, readBuffer, upload } from "./engine.ts";
import { GpuError } from "./device.ts";

/** Element types a tensor can hold (all 4 bytes wide). */
export type DType = "f32" | "i32" | "u32";

/** Host array for a dtype. */
export type HostArray = Float32Array | Int32Array | Uint32Array;

/** A node of the autograd tape (see core/autograd.ts); opaque here. */
export interface TapeNode {
  /** Op name, for error messages. */
  readonly name: string;
}

const scopes: Set<Tensor>[] = [];

/**
 * `t` viewed as `shape`, dropping the caller's reference to `t` itself: for a tensor the caller
 * made and only wants in another shape.
 */
export function reshapeOwned(t: Tensor, shape: readonly number[]): Tensor {
  const r = t.reshape(shape);
  t.dispose();
  return r;
}

/** Product of a shape's dims (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape like PyTorch: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** A contiguous GPU tensor. */
export class Tensor {
  /** The storage; may be larger than needed (pool bucket). */
  readonly buffer: GPUBuffer;
  /** Dimensions, row-major. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor after `backward`. */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, if any. */
  node: TapeNode | null = null;
  /** Optional name (parameters carry their PyTorch name). */
  name?: string;
  #refs = 1;
  #disposed = false;
  /** For a view: the tensor owning the storage (holds one reference for the view). */
  readonly #base: Tensor | null;

  /** Wraps a buffer from the pool; use {@link empty} or {@link tensor} instead. */
  constructor(
    buffer: GPUBuffer,
    shape: readonly number[],
    dtype: DType = "f32",
    base: Tensor | null = null,
  ) {
    this.buffer = buffer;
    this.#base = base;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = numel(shape);
    scopes.at(-1)?.add(this);
  }

  /** Bytes of payload (not of the pooled buffer). */
  get bytes(): number {
    return this.size * 4;
  }

  /** Whether the creator's reference was dropped. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Current reference count (storage is pooled when it reaches 0). */
  get refs(): number {
    return this.#refs;
  }

  /** Takes an extra reference (the tape does this for saved tensors). */
  retain(): this {
    if (this.#refs <= 0) throw new GpuError("retain() on a freed tensor");
    this.#refs++;
    return this;
  }

  /** Drops a reference; at zero the buffer returns to the pool (a view releases its base). */
  release(): void {
    if (--this.#refs === 0) {
      if (this.#base) this.#base.release();
      else pool.release(this.buffer);
    } else if (this.#refs < 0) throw new GpuError("tensor released more often than retained");
  }

  /** Drops the creator's reference (idempotent) and the gradient. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.grad?.dispose();
    this.grad = null;
    this.release();
  }

  /** `using t = ...` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Throws if the storage is already freed. */
  assertLive(op: string): void {
    if (this.#refs <= 0) {
      throw new GpuError(`${op}: input ${fmtShape(this.shape)} was disposed before use`);
    }
  }

  /** Copies the values to the host (waits for the GPU). */
  async data(): Promise<HostArray> {
    this.assertLive("data");
    const raw = await readBuffer(this.buffer, this.bytes);
    return this.dtype === "f32"
      ? new Float32Array(raw)
      : this.dtype === "i32"
      ? new Int32Array(raw)
      : new Uint32Array(raw);
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new GpuError(`item(): tensor has shape ${fmtShape(this.shape)}`);
    return (await this.data())[0];
  }

  /** A tensor sharing this storage with another shape of the same size (takes a reference). */
  reshape(shape: readonly number[]): Tensor {
    const s = [...shape];
    const neg = s.indexOf(-1);
    if (neg >= 0) s[neg] = this.size / numel(s.filter((_, i) => i !== neg));
    if (numel(s) !== this.size) {
      throw new GpuError(`reshape: cannot view ${fmtShape(this.shape)} as ${fmtShape(shape)}`);
    }
    const base = this.#base ?? this;
    base.retain();
    return new Tensor(this.buffer, s, this.dtype, base);
  }

  /** Marks this tensor as a leaf that collects gradients. */
  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  /** Debug string. */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.name ? ", " + this.name : ""})`;
  }
}

/** An uninitialized tensor from the pool. */
export function empty(shape: readonly number[], dtype: DType = "f32", op = "empty"): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new GpuError(`${op}: invalid shape ${fmtShape(shape)}`);
    }
  }
  return new Tensor(pool.acquire(numel(shape) * 4, op), shape, dtype);
}

/** A tensor holding host data (converted to the dtype). */
export function tensor(
  data: ArrayLike<number>,
  shape: readonly number[] = [data.length],
  dtype: DType = "f32",
): Tensor {
  if (numel(shape) !== data.length) {
    throw new GpuError(
      `tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)})`,
    );
  }
  const t = empty(shape, dtype, "tensor");
  const host = dtype === "f32"
    ? Float32Array.from(data)
    : dtype === "i32"
    ? Int32Array.from(data)
    : Uint32Array.from(data);
  if (host.length) upload(t.buffer, host);
  return t;
}

/** Runs `fn` and disposes every tensor created inside except the ones it returns or keeps. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let out: T;
  try {
    out = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>();
  const collect = (v: unknown) => {
    if (v instanceof Tensor) survivors.add(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === "object" && !(v instanceof Promise)) {
      Object.values(v).forEach(collect);
    }
  };
  collect(out);
  for (const t of scope) {
    if (survivors.has(t)) scopes.at(-1)?.add(t);
    else t.dispose();
  }
  return out;
}

/** Exempts a tensor from the enclosing {@link tidy} scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}
