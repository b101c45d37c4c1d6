/**
 * Progress formatting: durations, a step-rate/ETA estimator over a sliding window, and the
 * two renderings of training progress: a tqdm-like bar for terminals and a plain line for logs
 * and pipes. Pure functions; the clock is passed in.
 *
 * @module
 */

/** Formats seconds as `45s`, `3m05s`, `1h02m`, `2d03h` (or `?` when unknown). */
export function formatDuration(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const p2 = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${p2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${p2(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${p2(Math.floor(s / 3600) % 24)}h`;
}

/** Formats a loss compactly (4 significant digits; `nan`/`inf` for non-finite, `-` unknown). */
export function formatLoss(v: number | null | undefined): string {
  if (v === undefined) return "-";
  if (v === null || Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
}

/** Estimates steps per second from the recent past (a window of samples). */
export class RateEstimator {
  #samples: [t: number, step: number][] = [];
  readonly #windowMs: number;

  /** Keeps samples from the last `windowMs` (default 30 s; at least the two newest). */
  constructor(windowMs = 30_000) {
    this.#windowMs = windowMs;
  }

  /** Records that `step` was reached at time `tMs`. */
  add(tMs: number, step: number): void {
    const last = this.#samples.at(-1);
    if (last && step < last[1]) this.#samples = [];
    this.#samples.push([tMs, step]);
    while (this.#samples.length > 2 && tMs - this.#samples[1][0] >= this.#windowMs) {
      this.#samples.shift();
    }
  }

  /** Steps per second, or undefined before two samples that differ in time and step. */
  rate(): number | undefined {
    if (this.#samples.length < 2) return undefined;
    const [t0, s0] = this.#samples[0];
    const [t1, s1] = this.#samples.at(-1)!;
    if (t1 <= t0 || s1 <= s0) return undefined;
    return ((s1 - s0) * 1000) / (t1 - t0);
  }
}

/** What a progress line shows. */
export interface ProgressState {
  /** Current global step (steps completed). */
  step: number;
  /** Total steps of the run. */
  totalSteps: number;
  /** Current epoch (0-based), when known. */
  epoch?: number;
  /** Total epochs, when known. */
  totalEpochs?: number;
  /** Latest known loss. */
  loss?: number | null;
  /** Share of step time spent waiting for data (0..1). */
  dataWait?: number;
  /** Steps per second. */
  rate?: number;
  /** Seconds since the start. */
  elapsedSec: number;
  /** Images per second, when known. */
  imagesPerSec?: number;
}

/** Seconds to go at the current rate, or undefined. */
export function etaSeconds(s: ProgressState): number | undefined {
  if (!s.rate || s.rate <= 0) return undefined;
  return Math.max(0, s.totalSteps - s.step) / s.rate;
}

function parts(s: ProgressState): string[] {
  const out: string[] = [];
  if (s.rate !== undefined) {
    out.push(s.rate >= 1 ? `${s.rate.toFixed(2)} it/s` : `${(1 / s.rate).toFixed(2)} s/it`);
  }
  if (s.imagesPerSec !== undefined) out.push(`${s.imagesPerSec.toFixed(1)} img/s`);
  out.push(`loss=${formatLoss(s.loss)}`);
  if (s.dataWait !== undefined) out.push(`data_wait=${(s.dataWait * 100).toFixed(1)}%`);
  return out;
}

function epochLabel(s: ProgressState): string {
  if (s.epoch === undefined) return "";
  return s.totalEpochs ? `epoch ${s.epoch + 1}/${s.totalEpochs} ` : `epoch ${s.epoch + 1} `;
}

function pct(s: ProgressState): number {
  return s.totalSteps > 0 ? Math.min(100, Math.floor((100 * s.step) / s.totalSteps)) : 0;
}

/**
 * A one-line terminal bar fitting `columns`:
 * `epoch 2/10  45%|█████▍      | 450/1000 [01m23s<01m40s, 5.40 it/s, loss=4.123, data_wait=3.1%]`.
 */
export function renderBar(s: ProgressState, columns = 100): string {
  const head = `${epochLabel(s)}${String(pct(s)).padStart(3)}%|`;
  const tail = `| ${s.step}/${s.totalSteps} [${formatDuration(s.elapsedSec)}<${
    formatDuration(etaSeconds(s))
  }, ${parts(s).join(", ")}]`;
  const barW = Math.max(0, Math.min(40, columns - 1 - head.length - tail.length));
  const frac = s.totalSteps > 0 ? Math.min(1, s.step / s.totalSteps) : 0;
  const eighths = Math.round(frac * barW * 8);
  const full = Math.floor(eighths / 8);
  const partial = eighths % 8 ? " ▏▎▍▌▋▊▉"[eighths % 8] : "";
  const bar = ("█".repeat(full) + partial).padEnd(barW, " ");
  const line = head + bar + tail;
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}

/**
 * A plain progress line for logs and pipes:
 * `step 450/1000 (45%) epoch 2/10 | 5.40 it/s, loss=4.123, data_wait=3.1% | elapsed 1m23s, ETA 1m40s`.
 */
export function renderPlain(s: ProgressState): string {
  const ep = s.epoch === undefined ? "" : ` ${epochLabel(s).trim()}`;
  return `step ${s.step}/${s.totalSteps} (${pct(s)}%)${ep} | ${parts(s).join(", ")} | elapsed ${
    formatDuration(s.elapsedSec)
  }, ETA ${formatDuration(etaSeconds(s))}`;
}
