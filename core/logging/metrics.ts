/**
 * `metrics.jsonl`: one JSON object per logged step, append-only (LightlyTrain's JSONL logger).
 * A row is `{"step": 100, "epoch": 0, "train_loss": 4.2, "lr": 0.001, ...}` with keys such as
 * `train_loss`, `train_loss/<sub>`, `lr`, `schedule/<name>`, `profiling/data_time`, `data_wait`.
 * Non-finite values (NaN, ±Infinity) are written as `null`.
 *
 * @module
 */
import { AppendFile, type ByteSink } from "./append_file.ts";

/** A scalar to log; `undefined` leaves the key out, `null`/NaN/±Infinity write `null`. */
export type Scalar = number | null | undefined;

/** One row of `metrics.jsonl` as read back. */
export interface MetricsRow {
  /** Global optimizer step. */
  step: number;
  /** Epoch (0-based), when logged. */
  epoch?: number;
  /** Scalar values by key; `null` stands for a non-finite value. */
  [key: string]: number | null | undefined;
}

/** Options of {@link MetricsLogger}. */
export interface MetricsLoggerOptions {
  /** Flush after this many rows (LightlyTrain: `flush_logs_every_n_steps=100`); default 100. */
  flushEveryRows?: number;
  /** Also flush when this long has passed since the last flush (checked on log); default 10 s. */
  flushIntervalMs?: number;
  /** Clock in ms (tests); default `performance.now`. */
  now?: () => number;
  /** Sink to write to instead of the file (tests). */
  sink?: ByteSink;
}

const ENC = new TextEncoder();

/** Turns a value into its JSON form: finite numbers stay, non-finite ones become `null`. */
function jsonScalar(key: string, v: Scalar): number | null {
  if (v === null) return null;
  if (typeof v !== "number") {
    throw new TypeError(`metrics.jsonl: value of "${key}" must be a number, got ${typeof v}`);
  }
  return Number.isFinite(v) ? v : null;
}

/** Appends rows to `metrics.jsonl`. Call {@link MetricsLogger.close} at the end of the run. */
export class MetricsLogger {
  /** The file written. */
  readonly path: string;
  readonly #file: AppendFile;
  readonly #everyRows: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #rowsSinceFlush = 0;
  #lastFlush: number;

  /**
   * Opens (creates, or appends to on resume) `path`. Throws a `LogWriteError` when the file
   * cannot be opened.
   */
  constructor(path: string, opts: MetricsLoggerOptions = {}) {
    this.path = path;
    this.#file = new AppendFile(path, { what: "metrics.jsonl", sink: opts.sink, lineBased: true });
    this.#everyRows = Math.max(1, opts.flushEveryRows ?? 100);
    this.#intervalMs = opts.flushIntervalMs ?? 10_000;
    this.#now = opts.now ?? (() => performance.now());
    this.#lastFlush = this.#now();
  }

  /**
   * Logs one row for `step`. Keys keep their insertion order after `step` and `epoch`.
   * Throws a `TypeError` for a non-numeric value or a reserved key, and a `LogWriteError`
   * when a due flush fails (the row stays queued).
   */
  log(step: number, values: Record<string, Scalar>, epoch?: number): void {
    if (!Number.isInteger(step) || step < 0) {
      throw new TypeError(`metrics.jsonl: step must be a non-negative integer, got ${step}`);
    }
    const row: Record<string, number | null> = { step };
    if (epoch !== undefined) row.epoch = epoch;
    for (const [k, v] of Object.entries(values)) {
      if (k === "step" || k === "epoch") {
        throw new TypeError(`metrics.jsonl: "${k}" is reserved; pass it as an argument`);
      }
      if (v === undefined) continue;
      row[k] = jsonScalar(k, v);
    }
    this.#file.append(ENC.encode(JSON.stringify(row) + "\n"));
    this.#rowsSinceFlush++;
    if (
      this.#rowsSinceFlush >= this.#everyRows || this.#now() - this.#lastFlush >= this.#intervalMs
    ) this.flush();
  }

  /** Writes queued rows to disk. */
  flush(): void {
    this.#file.flush();
    this.#rowsSinceFlush = 0;
    this.#lastFlush = this.#now();
  }

  /** Flushes and closes the file. */
  close(): void {
    this.#file.close();
  }

  /** Same as {@link MetricsLogger.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Rows parsed from a metrics file, and how many lines could not be parsed. */
export interface ParsedMetrics {
  /** Rows in file order. */
  rows: MetricsRow[];
  /** Lines that were not a JSON object with a numeric `step` (e.g. a line cut by a crash). */
  badLines: number;
}

/** Parses `metrics.jsonl` text, skipping (and counting) malformed lines. */
export function parseMetrics(text: string): ParsedMetrics {
  const rows: MetricsRow[] = [];
  let badLines = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line);
      if (o && typeof o === "object" && typeof o.step === "number") rows.push(o as MetricsRow);
      else badLines++;
    } catch {
      badLines++;
    }
  }
  return { rows, badLines };
}

/** Reads and parses a `metrics.jsonl` file (see {@link parseMetrics}). */
export function readMetrics(path: string): ParsedMetrics {
  return parseMetrics(Deno.readTextFileSync(path));
}
