/**
 * safetensors read and write (the format of Hugging Face `safetensors`, as PyTorch uses it).
 *
 * Layout: 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON, then the data. The
 * JSON maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (byte offsets
 * relative to the start of the data) and may hold `"__metadata__"` (string to string). Values are
 * little-endian and row-major; the tensors cover the data without holes or overlaps.
 *
 * Reading ({@link readSafetensors}, {@link loadSafetensors}) validates the file strictly and
 * returns zero-copy typed-array views on the file buffer when a tensor is aligned to its element
 * size (a copy otherwise). Writing ({@link writeSafetensors}, {@link saveSafetensors}) pads the
 * header with spaces to a multiple of 8 and orders the data by element size (largest first), so
 * every tensor starts at a multiple of its element size; {@link saveSafetensors} writes
 * atomically (temp file in the same folder, fsync, rename).
 *
 * @module
 */

/** dtypes of the safetensors format that this module reads and writes. */
export type SafeDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "F8_E4M3"
  | "F8_E5M2"
  | "I64"
  | "U64"
  | "I32"
  | "U32"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

/**
 * Host array of a tensor: `Float64Array` (F64), `Float32Array` (F32), `Uint16Array` (raw bits
 * of F16 / BF16, and U16), `BigInt64Array` (I64), `BigUint64Array` (U64), `Int32Array`,
 * `Uint32Array`, `Int16Array`, `Int8Array`, `Uint8Array` (U8, BOOL as 0/1, raw bits of F8_*).
 */
export type SafeArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A tensor read from a safetensors file. */
export interface SafeTensor {
  /** Element type as written in the file. */
  readonly dtype: SafeDType;
  /** Dimensions, row-major (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** Values; a view on the file buffer when aligned, else a copy (see {@link SafeArray}). */
  readonly data: SafeArray;
}

/** A tensor to write: `data` is the array type of its dtype ({@link SafeArray}) or raw bytes. */
export interface SafeTensorInput {
  /** Element type to record in the header. */
  readonly dtype: SafeDType;
  /** Dimensions, row-major (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** Values: the typed array of the dtype, or a `Uint8Array` holding the little-endian bytes. */
  readonly data: ArrayBufferView;
}

/** Tensors to write: a record, a `Map` or a list of `[name, tensor]` pairs (order is kept). */
export type SafeTensorsInput =
  | Readonly<Record<string, SafeTensorInput>>
  | Iterable<readonly [string, SafeTensorInput]>;

/** Error for a malformed file, invalid tensors to write, or a failed load/save. */
export class SafetensorsError extends Error {
  /** An error with this message (and optional cause). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SafetensorsError";
  }
}

/** Largest header accepted when reading (the limit of the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafeArray;
  readonly name: string;
};

interface DTypeInfo {
  /** Bytes per element. */
  size: number;
  /** Position in the reference implementation's dtype enum (its writer sorts by it). */
  rank: number;
  /** Host array type. */
  ctor: ArrayCtor;
}

const DTYPES: Readonly<Record<SafeDType, DTypeInfo>> = {
  BOOL: { size: 1, rank: 0, ctor: Uint8Array },
  U8: { size: 1, rank: 1, ctor: Uint8Array },
  I8: { size: 1, rank: 2, ctor: Int8Array },
  F8_E5M2: { size: 1, rank: 3, ctor: Uint8Array },
  F8_E4M3: { size: 1, rank: 4, ctor: Uint8Array },
  I16: { size: 2, rank: 5, ctor: Int16Array },
  U16: { size: 2, rank: 6, ctor: Uint16Array },
  F16: { size: 2, rank: 7, ctor: Uint16Array },
  BF16: { size: 2, rank: 8, ctor: Uint16Array },
  I32: { size: 4, rank: 9, ctor: Int32Array },
  U32: { size: 4, rank: 10, ctor: Uint32Array },
  F32: { size: 4, rank: 11, ctor: Float32Array },
  F64: { size: 8, rank: 12, ctor: Float64Array },
  I64: { size: 8, rank: 13, ctor: BigInt64Array },
  U64: { size: 8, rank: 14, ctor: BigUint64Array },
};

/** All dtypes this module supports. */
export const SAFE_DTYPES: readonly SafeDType[] = Object.keys(DTYPES) as SafeDType[];

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: SafeDType): number {
  return DTYPES[dtype].size;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(source: string, what: string): never {
  throw new SafetensorsError(`safetensors ${source}: ${what}`);
}

function isDType(s: unknown): s is SafeDType {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

function fmt(a: readonly unknown[]): string {
  return `[${a.map((v) => JSON.stringify(v)).join(", ")}]`;
}

function checkShape(source: string, name: string, shape: unknown): number {
  if (!Array.isArray(shape)) fail(source, `tensor "${name}": shape must be an array of integers`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      fail(source, `tensor "${name}": shape ${fmt(shape)} must hold non-negative integers`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    fail(source, `tensor "${name}": shape ${fmt(shape)} has too many elements`);
  }
  return n;
}

/** A parsed safetensors file: metadata and tensors in data order. */
export class SafeFile {
  /** Where the bytes came from (a path or a label), used in error messages. */
  readonly source: string;
  /** The `__metadata__` entry, or `undefined` when the header has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Tensors by name, in the order of their data in the file. */
  readonly tensors: ReadonlyMap<string, SafeTensor>;
  /** Length `N` of the JSON header in bytes (padding included). */
  readonly headerLength: number;

  /** Builds a file object; use {@link readSafetensors} rather than this. */
  constructor(
    source: string,
    metadata: Record<string, string> | undefined,
    tensors: Map<string, SafeTensor>,
    headerLength: number,
  ) {
    this.source = source;
    this.metadata = metadata;
    this.tensors = tensors;
    this.headerLength = headerLength;
  }

  /** Tensor names in data order. */
  keys(): string[] {
    return [...this.tensors.keys()];
  }

  /** Whether the file holds a tensor of this name. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor of this name; throws {@link SafetensorsError} naming the file if absent. */
  get(name: string): SafeTensor {
    const t = this.tensors.get(name);
    if (t) return t;
    const keys = this.keys();
    const some = keys.slice(0, 8).map((k) => JSON.stringify(k)).join(", ");
    fail(
      this.source,
      `no tensor named "${name}" (${keys.length} tensors: ${some}${
        keys.length > 8 ? ", ..." : ""
      })`,
    );
  }

  /** The tensor's values as float32 (see {@link toFloat32}; no copy for F32). */
  float32(name: string): Float32Array {
    return toFloat32(this.get(name));
  }
}

/** Options of {@link readSafetensors}. */
export interface ReadOptions {
  /** Name for error messages (a path); default `"<bytes>"`. */
  source?: string;
  /** Copy every tensor instead of viewing the input buffer; default false. */
  copy?: boolean;
}

/**
 * Parses a safetensors file held in memory. Pure: no I/O.
 *
 * Checks: file length, header length within the file and at most {@link MAX_HEADER_BYTES},
 * UTF-8 JSON object starting with `{`, `__metadata__` string to string, known dtypes,
 * non-negative integer shapes and offsets, `end - begin` = elements x element size, offsets
 * inside the data, no overlap, no hole, the data covered to its last byte. Aligned tensors are
 * views on `bytes.buffer` (they change if `bytes` does); misaligned ones are copied.
 *
 * @throws {SafetensorsError} saying what is wrong, prefixed with `options.source`.
 */
export function readSafetensors(bytes: Uint8Array, options: ReadOptions = {}): SafeFile {
  const source = options.source ?? "<bytes>";
  if (!LITTLE_ENDIAN) fail(source, "this reader needs a little-endian host");
  const len = bytes.byteLength;
  if (len < 8) {
    fail(source, `truncated file: ${len} bytes, less than the 8-byte header length field`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(len - 8)) {
    fail(
      source,
      `header length ${n64} is beyond the end of the file (${len} bytes, so at most ${
        len - 8
      }): truncated or not a safetensors file`,
    );
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) {
    fail(source, `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (n < 2 || bytes[8] !== 0x7b) {
    fail(source, `header does not start with "{" (header length ${n}): not a safetensors file`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + n),
    );
  } catch {
    fail(source, "header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(source, "header JSON is not an object");
  }
  const dataStart = 8 + n;
  const dataLength = len - dataStart;

  let metadata: Record<string, string> | undefined;
  interface Entry {
    name: string;
    dtype: SafeDType;
    shape: number[];
    begin: number;
    end: number;
  }
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null || Array.isArray(info)) {
        fail(source, "__metadata__ must be an object of strings");
      }
      metadata = {};
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") {
          fail(source, `__metadata__ value of "${k}" is ${JSON.stringify(v)}, not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    if (typeof info !== "object" || info === null || Array.isArray(info)) {
      fail(source, `tensor "${name}": entry is not an object`);
    }
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (!isDType(dtype)) {
      fail(
        source,
        `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (supported: ${
          SAFE_DTYPES.join(", ")
        })`,
      );
    }
    const count = checkShape(source, name, shape);
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(
        source,
        `tensor "${name}": data_offsets ${JSON.stringify(offs)} must be [begin, end] integers`,
      );
    }
    const [begin, end] = offs as number[];
    if (end < begin) fail(source, `tensor "${name}": data_offsets [${begin}, ${end}] end < begin`);
    const need = count * DTYPES[dtype].size;
    if (end - begin !== need) {
      fail(
        source,
        `tensor "${name}": shape ${fmt(shape as number[])} of ${dtype} needs ${need} bytes ` +
          `but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataLength) {
      fail(
        source,
        `tensor "${name}": data_offsets [${begin}, ${end}] are beyond the data section ` +
          `(${dataLength} bytes): file truncated or offsets out of range`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of entries) {
    if (e.begin < pos) {
      fail(
        source,
        `tensor "${e.name}" (data_offsets [${e.begin}, ${e.end}]) overlaps "${prev}" ` +
          `(ends at ${pos})`,
      );
    }
    if (e.begin > pos) {
      fail(
        source,
        `bytes ${pos}..${e.begin} of the data are not covered by any tensor ` +
          `(hole before "${e.name}")`,
      );
    }
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLength) {
    fail(
      source,
      `the tensors cover ${pos} bytes but the data section has ${dataLength}: ` +
        `${dataLength - pos} trailing bytes are not covered by any tensor`,
    );
  }

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const { size, ctor } = DTYPES[e.dtype];
    const abs = bytes.byteOffset + dataStart + e.begin;
    const count = (e.end - e.begin) / size;
    let data: SafeArray;
    if (!options.copy && abs % size === 0) {
      data = new ctor(bytes.buffer, abs, count);
    } else {
      const copy = bytes.slice(dataStart + e.begin, dataStart + e.end);
      data = new ctor(copy.buffer, 0, count);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return new SafeFile(source, metadata, tensors, n);
}

/**
 * Reads and parses a safetensors file (`Deno.readFile`, needs `--allow-read`).
 *
 * @throws {SafetensorsError} when the file cannot be read or is malformed; the message names
 * the path.
 */
export async function loadSafetensors(path: string, options: ReadOptions = {}): Promise<SafeFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read safetensors ${path}: ${ioReason(e)}`, { cause: e });
  }
  return readSafetensors(bytes, { ...options, source: options.source ?? path });
}

// ---------------------------------------------------------------------------------------------
// float conversion
// ---------------------------------------------------------------------------------------------

/** Float value of IEEE half-precision bits (exact). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

function f8Table(expBits: number, manBits: number, fn: boolean): Float32Array {
  const t = new Float32Array(256);
  const bias = 2 ** (expBits - 1) - 1;
  const emax = 2 ** expBits - 1;
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >> manBits) & emax;
    const man = b & (2 ** manBits - 1);
    let v: number;
    if (exp === 0) v = man * 2 ** (1 - bias - manBits);
    else if (fn) {
      v = exp === emax && man === 2 ** manBits - 1
        ? NaN
        : (1 + man / 2 ** manBits) * 2 ** (exp - bias);
    } else if (exp === emax) v = man ? NaN : Infinity;
    else v = (1 + man / 2 ** manBits) * 2 ** (exp - bias);
    t[b] = sign * v;
  }
  return t;
}

let f8Tables: { e4m3: Float32Array; e5m2: Float32Array } | undefined;

/**
 * A tensor's values as float32. F32 is returned as is (the same array, not a copy); F64, the
 * integer types and BOOL are converted with rounding to nearest; F16, BF16 and F8 (E4M3FN,
 * E5M2) are decoded exactly. Int64 values beyond 2^53 round twice (via float64).
 */
export function toFloat32(t: SafeTensor): Float32Array {
  const d = t.data;
  switch (t.dtype) {
    case "F32":
      return d as Float32Array;
    case "BF16": {
      const src = d as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case "F16": {
      const src = d as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = f16ToNumber(src[i]);
      return out;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      f8Tables ??= { e4m3: f8Table(4, 3, true), e5m2: f8Table(5, 2, false) };
      const table = t.dtype === "F8_E4M3" ? f8Tables.e4m3 : f8Tables.e5m2;
      const src = d as Uint8Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case "I64":
    case "U64": {
      const src = d as BigInt64Array | BigUint64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      return Float32Array.from(d as ArrayLike<number>);
  }
}

// ---------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------

/** Data order of {@link writeSafetensors}. */
export type SafeOrder = "grouped" | "sorted";

/** Options of {@link writeSafetensors} / {@link saveSafetensors}. */
export interface WriteOptions {
  /**
   * `"grouped"` (default): by element size, largest first, in the given order inside a group
   * (the layout of the refdata fixtures, which this reproduces byte for byte). `"sorted"`: the
   * order of the reference `safetensors` library (dtype rank descending, then name by UTF-8
   * bytes). Both align every tensor to its element size and load in PyTorch's `safetensors`;
   * the header lists the tensors in data order after `__metadata__`.
   */
  order?: SafeOrder;
}

function entriesOf(tensors: SafeTensorsInput): [string, SafeTensorInput][] {
  if (Symbol.iterator in tensors) {
    return [...(tensors as Iterable<readonly [string, SafeTensorInput]>)].map((e) => [e[0], e[1]]);
  }
  // Object.keys puts integer-like names first; pass a Map to keep such names in order.
  return Object.entries(tensors as Record<string, SafeTensorInput>);
}

function compareUtf8(a: string, b: string): number {
  // Code point order equals UTF-8 byte order (JS `<` compares UTF-16 units, which differs).
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

const RAW_VIEWS: readonly string[] = ["Uint8Array", "Uint8ClampedArray", "DataView"];

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes: JSON header padded
 * with spaces to a multiple of 8, then the data ordered as `options.order` says, each tensor
 * starting at a multiple of its element size. `metadata` is written as `__metadata__` when
 * given (even if empty), first in the header.
 *
 * @throws {SafetensorsError} for an unknown dtype, a bad shape, data of the wrong array type or
 * byte length, a duplicate or reserved name, or a non-string metadata value.
 */
export function writeSafetensors(
  tensors: SafeTensorsInput,
  metadata?: Readonly<Record<string, string>>,
  options: WriteOptions = {},
): Uint8Array {
  const src = "writer";
  if (!LITTLE_ENDIAN) fail(src, "this writer needs a little-endian host");
  const order = options.order ?? "grouped";
  if (order !== "grouped" && order !== "sorted") fail(src, `unknown order "${order}"`);
  const items = entriesOf(tensors);
  const seen = new Set<string>();
  const checked = items.map(([name, t], index) => {
    if (typeof name !== "string") fail(src, `tensor name ${String(name)} is not a string`);
    if (name === "__metadata__") fail(src, `"__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(name)) fail(src, `duplicate tensor name "${name}"`);
    seen.add(name);
    if (typeof t !== "object" || t === null) fail(src, `tensor "${name}" is not an object`);
    if (!isDType(t.dtype)) {
      fail(
        src,
        `tensor "${name}": unknown dtype ${JSON.stringify(t.dtype)} (supported: ${
          SAFE_DTYPES.join(", ")
        })`,
      );
    }
    const count = checkShape(src, name, t.shape);
    const info = DTYPES[t.dtype];
    const data = t.data;
    if (!ArrayBuffer.isView(data)) fail(src, `tensor "${name}": data is not a typed array`);
    const kind = data.constructor.name;
    if (kind !== info.ctor.name && !RAW_VIEWS.includes(kind)) {
      fail(
        src,
        `tensor "${name}": dtype ${t.dtype} needs a ${info.ctor.name} (or raw bytes in a ` +
          `Uint8Array), got ${kind}`,
      );
    }
    const need = count * info.size;
    if (data.byteLength !== need) {
      fail(
        src,
        `tensor "${name}": shape ${fmt(t.shape)} of ${t.dtype} needs ${need} bytes, ` +
          `data has ${data.byteLength}`,
      );
    }
    return { name, index, dtype: t.dtype, shape: [...t.shape], data, info };
  });
  if (order === "grouped") {
    checked.sort((a, b) => b.info.size - a.info.size || a.index - b.index);
  } else {
    checked.sort((a, b) => b.info.rank - a.info.rank || compareUtf8(a.name, b.name));
  }

  const parts: string[] = [];
  if (metadata !== undefined) {
    const kv: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        fail(src, `metadata value of "${k}" is ${typeof v}, not a string`);
      }
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(",")}}`);
  }
  let offset = 0;
  for (const t of checked) {
    const end = offset + t.data.byteLength;
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],` +
        `"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let pos = 8 + n;
  for (const t of checked) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// atomic save
// ---------------------------------------------------------------------------------------------

/** The file operations {@link writeFileAtomic} needs (the default is `Deno`'s). */
export interface AtomicWriteIO {
  /** Creates a new file (failing if it exists) for writing. */
  create(path: string): Promise<{
    write(p: Uint8Array): Promise<number>;
    sync(): Promise<void>;
    close(): void;
  }>;
  /** Renames a file, replacing the target. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** Flushes a directory entry to disk (best effort). */
  syncDir(path: string): Promise<void>;
}

/** The real file system. */
export const DENO_IO: AtomicWriteIO = {
  create: (path) => Deno.open(path, { write: true, createNew: true, mode: 0o644 }),
  rename: (from, to) => Deno.rename(from, to),
  remove: (path) => Deno.remove(path),
  syncDir: async (path) => {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  },
};

function ioReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string } | null)?.code ?? "";
  if (e instanceof Deno.errors.NotCapable) {
    return `no permission (${msg}); run deno with --allow-write / --allow-read for this path`;
  }
  if (e instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return `permission denied (${msg})`;
  }
  if (code === "ENOSPC" || /no space left|os error 28\b/i.test(msg)) return `disk full (${msg})`;
  if (code === "EDQUOT" || /quota exceeded|os error 122\b/i.test(msg)) {
    return `disk quota exceeded (${msg})`;
  }
  if (code === "EROFS" || /read-only file system|os error 30\b/i.test(msg)) {
    return `read-only file system (${msg})`;
  }
  if (e instanceof Deno.errors.NotFound) return `file or folder not found (${msg})`;
  if (e instanceof Deno.errors.IsADirectory) return `is a directory (${msg})`;
  return msg;
}

function splitPath(path: string): [string, string] {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return [".", path];
  return [i === 0 ? path.slice(0, 1) : path.slice(0, i), path.slice(i + 1)];
}

/**
 * Writes `bytes` to `path` atomically: a temp file in the same folder, written fully, fsynced,
 * then renamed over `path` (and the folder fsynced, best effort). On any failure the temp file
 * is removed and `path` keeps its old content (or stays absent).
 *
 * @throws {SafetensorsError} naming the path and the cause (disk full, permission denied, ...).
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  io: AtomicWriteIO = DENO_IO,
): Promise<void> {
  const [dir, base] = splitPath(path);
  if (base === "") throw new SafetensorsError(`cannot save to ${path}: not a file path`);
  const rand = crypto.getRandomValues(new Uint32Array(2));
  const tmp = `${dir === "." ? "" : dir + "/"}.${base}.${rand[0].toString(16)}${
    rand[1].toString(16)
  }.tmp`;
  let file: Awaited<ReturnType<AtomicWriteIO["create"]>> | undefined;
  let created = false;
  try {
    file = await io.create(tmp);
    created = true;
    for (let pos = 0; pos < bytes.length;) {
      const n = await file.write(bytes.subarray(pos, pos + (1 << 24)));
      if (n <= 0) throw new Error(`write returned ${n}`);
      pos += n;
    }
    await file.sync();
    file.close();
    file = undefined;
    await io.rename(tmp, path);
    created = false;
  } catch (e) {
    if (file) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    let left = "";
    if (created) {
      try {
        await io.remove(tmp);
      } catch {
        left = `; the temp file ${tmp} could not be removed`;
      }
    }
    throw new SafetensorsError(
      `cannot save ${path}: ${ioReason(e)}; ${
        left ? "" : "no partial file was left, "
      }the target is unchanged${left}`,
      { cause: e },
    );
  }
  try {
    await io.syncDir(dir);
  } catch { /* best effort: some systems cannot fsync a folder */ }
}

/**
 * Serializes tensors ({@link writeSafetensors}) and writes them to `path` atomically
 * ({@link writeFileAtomic}; needs `--allow-write`).
 *
 * @throws {SafetensorsError} for invalid tensors or when the file cannot be written.
 */
export async function saveSafetensors(
  path: string,
  tensors: SafeTensorsInput,
  metadata?: Readonly<Record<string, string>>,
  options: WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, writeSafetensors(tensors, metadata, options));
}
