/**
 * The loggers of one run in its output directory, opened and closed together:
 * `train.log` (always), `metrics.jsonl` and a TensorBoard event file (each on by default, as in
 * LightlyTrain's `loggers={"jsonl": ..., "tensorboard": ...}`).
 *
 * @module
 */
import { MetricsLogger, type Scalar } from "./metrics.ts";
import { TensorBoardWriter } from "./tensorboard.ts";
import { type ConsoleOut, TrainLog } from "./train_log.ts";

/** Options of {@link RunLoggers.open}. */
export interface RunLoggersOptions {
  /** Write `metrics.jsonl`; default true. */
  jsonl?: boolean;
  /** Write TensorBoard event files; default true. */
  tensorboard?: boolean;
  /** Console for `train.log` echo and progress; `false` for none; default stderr. */
  console?: ConsoleOut | false;
  /** Rows between `metrics.jsonl` flushes; default 100. */
  flushEveryRows?: number;
}

/** `train.log` + `metrics.jsonl` + TensorBoard for one run. */
export class RunLoggers {
  /** The text log with console echo and progress. */
  readonly log: TrainLog;
  /** The JSONL metrics logger, or null when disabled. */
  readonly metrics: MetricsLogger | null;
  /** The TensorBoard writer, or null when disabled. */
  readonly tensorboard: TensorBoardWriter | null;

  private constructor(log: TrainLog, metrics: MetricsLogger | null, tb: TensorBoardWriter | null) {
    this.log = log;
    this.metrics = metrics;
    this.tensorboard = tb;
  }

  /** Opens the loggers in `outDir` (which must exist). */
  static open(outDir: string, opts: RunLoggersOptions = {}): RunLoggers {
    const dir = outDir.replace(/\/+$/, "");
    const opened: { close(): void }[] = [];
    try {
      const log = new TrainLog(`${dir}/train.log`, { console: opts.console });
      opened.push(log);
      const metrics = opts.jsonl === false ? null : new MetricsLogger(`${dir}/metrics.jsonl`, {
        flushEveryRows: opts.flushEveryRows,
      });
      if (metrics) opened.push(metrics);
      const tb = opts.tensorboard === false ? null : new TensorBoardWriter(dir);
      return new RunLoggers(log, metrics, tb);
    } catch (e) {
      for (const o of opened) {
        try {
          o.close();
        } catch {
          // already failing
        }
      }
      throw e;
    }
  }

  /** Logs scalars for `step` to `metrics.jsonl` and TensorBoard. */
  logMetrics(step: number, values: Record<string, Scalar>, epoch?: number): void {
    this.metrics?.log(step, values, epoch);
    this.tensorboard?.addScalars(step, values);
  }

  /** Logs a PNG image (the example views grid) to TensorBoard. */
  logImage(tag: string, png: Uint8Array, step: number): void {
    this.tensorboard?.addImage(tag, png, step);
  }

  /** Flushes the metrics and event files. */
  flush(): void {
    this.metrics?.flush();
    this.tensorboard?.flush();
  }

  /** Closes every logger (all of them, even if one fails; the first error is rethrown). */
  close(): void {
    let err: unknown;
    for (const o of [this.log, this.metrics, this.tensorboard]) {
      try {
        o?.close();
      } catch (e) {
        err ??= e;
      }
    }
    if (err) throw err;
  }

  /** Same as {@link RunLoggers.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
