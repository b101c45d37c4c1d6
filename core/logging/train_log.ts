/**
 * `train.log`: timestamped text lines, echoed to the console, plus training progress. On a
 * terminal (stderr is a TTY) progress is a live bar with ETA, loss and `data_wait`; otherwise
 * (pipes, CI, files) it is a plain line every few steps or seconds. The log file gets the plain
 * lines at the same cadence either way, never the bar.
 *
 * @module
 */
import { AppendFile, type ByteSink } from "./append_file.ts";
import { type ProgressState, RateEstimator, renderBar, renderPlain } from "./progress.ts";

/** Where console output goes. */
export interface ConsoleOut {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** True for an interactive terminal: progress is drawn as a bar. */
  isTerminal: boolean;
  /** Terminal width in columns. */
  columns(): number;
}

const ENC = new TextEncoder();

/** The process's stderr as a {@link ConsoleOut}. */
export function stderrConsole(): ConsoleOut {
  let tty = false;
  try {
    tty = Deno.stderr.isTerminal();
  } catch {
    tty = false;
  }
  return {
    write(text) {
      const b = ENC.encode(text);
      let o = 0;
      while (o < b.length) o += Deno.stderr.writeSync(b.subarray(o));
    },
    isTerminal: tty,
    columns() {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 100;
      }
    },
  };
}

/** Log levels of {@link TrainLog}. */
export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR";

/** Options of {@link TrainLog}. */
export interface TrainLogOptions {
  /** Console to echo to; `false` for none. Default: stderr. */
  console?: ConsoleOut | false;
  /** Monotonic clock in ms (tests); default `performance.now`. */
  now?: () => number;
  /** Wall clock for timestamps (tests); default `new Date()`. */
  date?: () => Date;
  /** Redraw the bar at most this often, ms; default 100. */
  redrawMs?: number;
  /** Plain progress line at least every this many steps; default `ceil(totalSteps / 20)`. */
  plainEverySteps?: number;
  /** Plain progress line at least every this long, ms; default 30 s. */
  plainIntervalMs?: number;
  /** Sink to write to instead of the file (tests). */
  sink?: ByteSink;
}

/** Start of a progress span. */
export interface ProgressStart {
  /** Total steps of the run. */
  totalSteps: number;
  /** Step the run starts from (non-zero on resume); default 0. */
  startStep?: number;
  /** Total epochs, when known. */
  totalEpochs?: number;
}

/** One progress report from the training loop; fields left out keep their last value. */
export interface ProgressUpdate {
  /** Global step reached (steps completed). */
  step: number;
  /** Current epoch (0-based). */
  epoch?: number;
  /** Latest known loss (read back asynchronously, so it may lag). */
  loss?: number | null;
  /** Share of step time spent waiting for data (0..1). */
  dataWait?: number;
  /** Images per second. */
  imagesPerSec?: number;
}

/** Writes `train.log` and the console, and shows training progress. */
export class TrainLog {
  /** The log file path. */
  readonly path: string;
  readonly #file: AppendFile;
  readonly #console: ConsoleOut | null;
  readonly #now: () => number;
  readonly #date: () => Date;
  readonly #redrawMs: number;
  readonly #plainEvery?: number;
  readonly #plainIntervalMs: number;
  #prog: {
    state: ProgressState;
    t0: number;
    rate: RateEstimator;
    every: number;
    lastPlainStep: number;
    lastPlainAt: number;
    lastDrawAt: number;
    barShown: boolean;
  } | null = null;

  /** Opens (creates, or appends to on resume) `path`. */
  constructor(path: string, opts: TrainLogOptions = {}) {
    this.path = path;
    this.#file = new AppendFile(path, { what: "train.log", sink: opts.sink, lineBased: true });
    this.#console = opts.console === false ? null : (opts.console ?? stderrConsole());
    this.#now = opts.now ?? (() => performance.now());
    this.#date = opts.date ?? (() => new Date());
    this.#redrawMs = opts.redrawMs ?? 100;
    this.#plainEvery = opts.plainEverySteps;
    this.#plainIntervalMs = opts.plainIntervalMs ?? 30_000;
  }

  #toFile(level: LogLevel, msg: string): void {
    const ts = this.#date().toISOString();
    this.#file.append(ENC.encode(`${ts} ${level.padEnd(7)} ${msg}\n`));
    this.#file.flush();
  }

  #toConsole(text: string): void {
    const c = this.#console;
    if (!c) return;
    if (this.#prog?.barShown) {
      c.write(`\r\x1b[2K${text}\n`);
      this.#draw(true);
    } else c.write(`${text}\n`);
  }

  /** Logs a line at `level` to the file and (except DEBUG) the console. */
  log(level: LogLevel, msg: string): void {
    this.#toFile(level, msg);
    if (level === "DEBUG") return;
    this.#toConsole(level === "INFO" ? msg : `${level}: ${msg}`);
  }

  /** Logs to the file only. */
  debug(msg: string): void {
    this.log("DEBUG", msg);
  }

  /** Logs an informational line. */
  info(msg: string): void {
    this.log("INFO", msg);
  }

  /** Logs a warning. */
  warn(msg: string): void {
    this.log("WARNING", msg);
  }

  /** Logs an error. */
  error(msg: string): void {
    this.log("ERROR", msg);
  }

  /** Starts showing progress for a run of `totalSteps`. */
  startProgress(p: ProgressStart): void {
    const start = p.startStep ?? 0;
    const t0 = this.#now();
    const rate = new RateEstimator();
    rate.add(t0, start);
    this.#prog = {
      state: { step: start, totalSteps: p.totalSteps, totalEpochs: p.totalEpochs, elapsedSec: 0 },
      t0,
      rate,
      every: Math.max(1, this.#plainEvery ?? Math.ceil(p.totalSteps / 20)),
      lastPlainStep: start,
      lastPlainAt: t0,
      lastDrawAt: -Infinity,
      barShown: false,
    };
  }

  /** The progress state as last updated (undefined before {@link TrainLog.startProgress}). */
  get progressState(): ProgressState | undefined {
    return this.#prog ? { ...this.#prog.state } : undefined;
  }

  /** Reports progress; draws the bar or writes a plain line when one is due. */
  progress(u: ProgressUpdate): void {
    const p = this.#prog;
    if (!p) throw new Error("TrainLog.progress: call startProgress first");
    const t = this.#now();
    p.rate.add(t, u.step);
    const s = p.state;
    s.step = u.step;
    if (u.epoch !== undefined) s.epoch = u.epoch;
    if (u.loss !== undefined) s.loss = u.loss;
    if (u.dataWait !== undefined) s.dataWait = u.dataWait;
    if (u.imagesPerSec !== undefined) s.imagesPerSec = u.imagesPerSec;
    s.rate = p.rate.rate();
    s.elapsedSec = (t - p.t0) / 1000;
    const last = s.step >= s.totalSteps;
    if (
      last || s.step - p.lastPlainStep >= p.every || t - p.lastPlainAt >= this.#plainIntervalMs
    ) {
      p.lastPlainStep = s.step;
      p.lastPlainAt = t;
      const line = renderPlain(s);
      this.#toFile("INFO", line);
      if (this.#console && !this.#console.isTerminal) this.#console.write(`${line}\n`);
    }
    if (this.#console?.isTerminal && (last || t - p.lastDrawAt >= this.#redrawMs)) {
      p.lastDrawAt = t;
      this.#draw(false);
    }
  }

  #draw(fresh: boolean): void {
    const p = this.#prog, c = this.#console;
    if (!p || !c?.isTerminal) return;
    c.write(`${fresh ? "" : "\r\x1b[2K"}${renderBar(p.state, c.columns())}`);
    p.barShown = true;
  }

  /** Ends the progress span: finishes the bar line, or writes the final plain line. */
  endProgress(): void {
    const p = this.#prog;
    if (!p) return;
    if (p.lastPlainStep !== p.state.step) {
      const line = renderPlain(p.state);
      this.#toFile("INFO", line);
      if (this.#console && !this.#console.isTerminal) this.#console.write(`${line}\n`);
    }
    if (this.#console?.isTerminal) {
      this.#draw(false);
      this.#console.write("\n");
    }
    this.#prog = null;
  }

  /** Ends progress, flushes and closes the file. */
  close(): void {
    this.endProgress();
    this.#file.close();
  }

  /** Same as {@link TrainLog.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
