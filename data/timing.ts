/**
 * Data-wait measurement: how much of the step time the training loop spent waiting for its
 * next batch (LightlyTrain's `data_wait`). A step is the time between two batches becoming
 * available to the consumer; its wait is the part of it spent inside the loader's `next()`.
 * The first batch's wait (start-up: workers loading, the pipeline filling) is kept apart.
 *
 * @module
 */

/** Timing of the batches delivered over some span. */
export interface LoaderTiming {
  /** Batches delivered (after the first). */
  batches: number;
  /** Time the consumer waited for those batches, ms. */
  waitMs: number;
  /** Wall time of those steps, ms (first batch ready to last batch ready). */
  stepMs: number;
  /** `waitMs / stepMs` (0 when nothing was measured): the share of step time spent waiting. */
  dataWait: number;
  /** Wait for the very first batch, ms (start-up). */
  firstBatchMs: number;
}

/** Accumulates data-wait over the whole run and over the current logging interval. */
export class DataWaitMeter {
  #first = -1;
  #last = -1;
  #total = { batches: 0, waitMs: 0, stepMs: 0 };
  #interval = { batches: 0, waitMs: 0, stepMs: 0 };

  /** Records a batch that became ready at `readyAt` (performance.now()) after `waitMs`. */
  record(waitMs: number, readyAt: number): void {
    if (this.#last < 0) {
      if (this.#first < 0) this.#first = waitMs;
      this.#last = readyAt;
      return;
    }
    const step = readyAt - this.#last;
    this.#last = readyAt;
    for (const acc of [this.#total, this.#interval]) {
      acc.batches++;
      acc.waitMs += waitMs;
      acc.stepMs += step;
    }
  }

  /**
   * Restarts the step clock (a new batch iterator): the next batch opens a new span and is not
   * counted as a step, since its wait includes the pipeline filling again.
   */
  restart(): void {
    this.#last = -1;
  }

  #view(acc: { batches: number; waitMs: number; stepMs: number }): LoaderTiming {
    return {
      ...acc,
      dataWait: acc.stepMs > 0 ? acc.waitMs / acc.stepMs : 0,
      firstBatchMs: Math.max(0, this.#first),
    };
  }

  /** Totals since the meter was created. */
  total(): LoaderTiming {
    return this.#view(this.#total);
  }

  /** Totals since the last call of `interval()` (for per-log-step `data_wait`). */
  interval(): LoaderTiming {
    const v = this.#view(this.#interval);
    this.#interval = { batches: 0, waitMs: 0, stepMs: 0 };
    return v;
  }
}
