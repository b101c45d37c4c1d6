/**
 * TensorBoard event files (`events.out.tfevents.<time>.<host>`) written by our own code:
 * TFRecord framing around hand-encoded `tensorflow.Event` protobufs. Scalars are
 * `Summary.Value{tag, simple_value}`; the example-views grid is a `Summary.Image` holding PNG
 * bytes. The file is append-only, flushed regularly and on close.
 *
 * Field numbers (tensorflow/core/util/event.proto, framework/summary.proto):
 * `Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5}`,
 * `Summary{value=1}`, `Value{tag=1, simple_value=2 float, image=4}`,
 * `Image{height=1, width=2, colorspace=3, encoded_image_string=4}`.
 *
 * @module
 */
import { AppendFile, type ByteSink } from "./append_file.ts";
import { ProtoWriter } from "./protobuf.ts";
import { frameRecord } from "./tfrecord.ts";
import { pngInfo } from "./png.ts";

/** The `file_version` the first event of every file carries. */
export const EVENT_FILE_VERSION = "brain.Event:2";

function event(wallTime: number, step: number): ProtoWriter {
  return new ProtoWriter().double(1, wallTime).varint(2, step);
}

/** Encodes the first event of a file: `{wall_time, file_version: "brain.Event:2"}`. */
export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, EVENT_FILE_VERSION).finish();
}

/** Encodes an event with one `simple_value` per entry of `values` (float32 precision). */
export function encodeScalarsEvent(
  wallTime: number,
  step: number,
  values: [tag: string, value: number][],
): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, v] of values) summary.message(1, new ProtoWriter().string(1, tag).float(2, v));
  return event(wallTime, step).message(5, summary).finish();
}

/** Encodes an event holding one `Summary.Image` with the given PNG bytes. */
export function encodeImageEvent(
  wallTime: number,
  step: number,
  tag: string,
  png: Uint8Array,
): Uint8Array {
  const info = pngInfo(png);
  const image = new ProtoWriter()
    .varint(1, info.height)
    .varint(2, info.width)
    .varint(3, info.channels)
    .bytes(4, png);
  const value = new ProtoWriter().string(1, tag).message(4, image);
  return event(wallTime, step).message(5, new ProtoWriter().message(1, value)).finish();
}

/** Options of {@link TensorBoardWriter}. */
export interface TensorBoardWriterOptions {
  /** Host name in the file name; default `Deno.hostname()` when permitted, else `$HOSTNAME`. */
  hostname?: string;
  /** Wall clock in ms since the epoch (tests); default `Date.now`. */
  now?: () => number;
  /** Flush after this many events; default 100. */
  flushEveryEvents?: number;
  /** Also flush when this long has passed since the last flush (checked on write); 10 s. */
  flushIntervalMs?: number;
  /** Sink to write to instead of a file (tests); `path` is then only a name. */
  sink?: ByteSink;
}

/** The host name for event file names, without asking for a permission that was not given. */
function defaultHostname(): string {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
      return Deno.hostname();
    }
  } catch {
    // fall through
  }
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "HOSTNAME" }).state === "granted") {
      const h = Deno.env.get("HOSTNAME");
      if (h) return h;
    }
  } catch {
    // fall through
  }
  return "localhost";
}

/** Writes one TensorBoard event file into a directory (the run's `out/`). */
export class TensorBoardWriter {
  /** Path of the event file. */
  readonly path: string;
  readonly #file: AppendFile;
  readonly #now: () => number;
  readonly #every: number;
  readonly #intervalMs: number;
  #sinceFlush = 0;
  #lastFlush: number;

  /**
   * Creates `events.out.tfevents.<unix seconds>.<host>` in `dir` (with `.<n>` appended if that
   * name exists) and writes the file-version event.
   */
  constructor(dir: string, opts: TensorBoardWriterOptions = {}) {
    this.#now = opts.now ?? (() => Date.now());
    const host = (opts.hostname ?? defaultHostname()).replace(/[^A-Za-z0-9._-]/g, "_");
    const base = `${dir.replace(/\/+$/, "")}/events.out.tfevents.${
      Math.floor(this.#now() / 1000)
    }.${host}`;
    let path = base;
    if (!opts.sink) {
      for (let n = 1; exists(path); n++) path = `${base}.${n}`;
    }
    this.path = path;
    this.#file = new AppendFile(path, { what: "TensorBoard event file", sink: opts.sink });
    this.#every = Math.max(1, opts.flushEveryEvents ?? 100);
    this.#intervalMs = opts.flushIntervalMs ?? 10_000;
    this.#lastFlush = this.#now();
    this.#file.append(frameRecord(encodeFileVersionEvent(this.#now() / 1000)));
    this.flush();
  }

  #add(bytes: Uint8Array): void {
    this.#file.append(frameRecord(bytes));
    this.#sinceFlush++;
    if (this.#sinceFlush >= this.#every || this.#now() - this.#lastFlush >= this.#intervalMs) {
      this.flush();
    }
  }

  /** Logs one scalar (`null` is written as NaN). */
  addScalar(tag: string, value: number | null, step: number): void {
    this.addScalars(step, { [tag]: value });
  }

  /**
   * Logs several scalars in one event, keyed by tag; `undefined` entries are skipped and
   * `null` is written as NaN (TensorBoard shows non-finite values as such).
   */
  addScalars(step: number, values: Record<string, number | null | undefined>): void {
    const list: [string, number][] = [];
    for (const [tag, v] of Object.entries(values)) {
      if (v === undefined) continue;
      if (v !== null && typeof v !== "number") {
        throw new TypeError(`TensorBoard: value of "${tag}" must be a number, got ${typeof v}`);
      }
      list.push([tag, v ?? NaN]);
    }
    if (list.length) this.#add(encodeScalarsEvent(this.#now() / 1000, step, list));
  }

  /** Logs a PNG image (e.g. the example augmentation grid at step 0) and flushes. */
  addImage(tag: string, png: Uint8Array, step: number): void {
    this.#add(encodeImageEvent(this.#now() / 1000, step, tag, png));
    this.flush();
  }

  /** Writes queued events to disk. */
  flush(): void {
    this.#file.flush();
    this.#sinceFlush = 0;
    this.#lastFlush = this.#now();
  }

  /** Flushes and closes the file. */
  close(): void {
    this.#file.close();
  }

  /** Same as {@link TensorBoardWriter.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
