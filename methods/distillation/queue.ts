/**
 * The teacher queue of distillation v1 and v3: `queue_size="auto"` buckets by dataset size
 * (LightlyTrain `_methods/distillation*`), validation of an explicit size, and the `[Q, D]`
 * buffer of past normalized teacher embeddings (zeros at the start, per device, not synced).
 * The update itself (`updateQueue`, newest first, before the loss) lives in `./loss.ts`.
 *
 * @module
 */
import { fmtShape, keep, type Tensor } from "../../core/tensor.ts";
import { zeros } from "../../kernels/elementwise.ts";
import type { HostTensor } from "../../models/module.ts";
import { upload } from "../../core/engine.ts";

/** `[dataset size upper bound (exclusive), queue size]` of `queue_size="auto"`; 8192 beyond. */
export const QUEUE_SIZE_BUCKETS: readonly (readonly [number, number])[] = [
  [50, 16],
  [100, 32],
  [250, 64],
  [500, 128],
  [1000, 256],
  [2000, 512],
  [4000, 1024],
  [10000, 2048],
  [20000, 4096],
];

/** Queue size for 20 000 images and more. */
export const MAX_AUTO_QUEUE_SIZE = 8192;

/** The `queue_size="auto"` value for a dataset of `n` images. */
export function autoQueueSize(n: number): number {
  for (const [below, q] of QUEUE_SIZE_BUCKETS) if (n < below) return q;
  return MAX_AUTO_QUEUE_SIZE;
}

/**
 * Resolves the `queue_size` method argument: `"auto"` takes the bucket of the dataset size; an
 * explicit size must be a positive integer below the number of images (LightlyTrain raises the
 * same error).
 */
export function resolveQueueSize(
  queueSize: unknown,
  datasetSize: number,
  method: string,
): number {
  if (queueSize === "auto") return autoQueueSize(datasetSize);
  if (typeof queueSize !== "number" || !Number.isInteger(queueSize) || queueSize < 1) {
    throw new Error(
      `${method}: method_args.queue_size must be "auto" or a positive integer, got ${
        JSON.stringify(queueSize)
      }`,
    );
  }
  if (queueSize >= datasetSize) {
    throw new Error(
      `${method}: method_args.queue_size=${queueSize} must be smaller than the number of images ` +
        `in the dataset (${datasetSize}); use queue_size="auto" (${
          autoQueueSize(datasetSize)
        } here) or a value below ${datasetSize}`,
    );
  }
  return queueSize;
}

/** The `teacher_queue` buffer `[Q, D]` of a run; replaced (not copied) at each step. */
export class TeacherQueue {
  #t: Tensor;

  /** A zero queue of `size` rows of `dim` features. */
  constructor(size: number, dim: number) {
    this.#t = keep(zeros([size, dim]));
  }

  /** The current queue. */
  get tensor(): Tensor {
    return this.#t;
  }

  /** Takes `next` (a new `[Q, D]` tensor, e.g. `updateQueue`'s) and frees the old one. */
  replace(next: Tensor): void {
    const [q, d] = this.#t.shape;
    if (next.shape.length !== 2 || next.shape[0] !== q || next.shape[1] !== d) {
      throw new Error(
        `teacher_queue: new queue ${fmtShape(next.shape)} does not match ${fmtShape([q, d])}`,
      );
    }
    if (next === this.#t) return;
    keep(next);
    this.#t.dispose();
    this.#t = next;
  }

  /** The queue as a host tensor (for checkpoints). */
  async state(): Promise<HostTensor> {
    return {
      dtype: "F32",
      shape: [...this.#t.shape],
      data: (await this.#t.data()) as Float32Array,
    };
  }

  /** Restores {@link state}; a different shape (other `queue_size` or teacher) is an error. */
  load(s: HostTensor | undefined, method: string): void {
    if (!s) throw new Error(`${method}: the checkpoint has no teacher_queue`);
    const [q, d] = this.#t.shape;
    if (s.shape.length !== 2 || s.shape[0] !== q || s.shape[1] !== d) {
      throw new Error(
        `${method}: the checkpoint's teacher_queue is ${fmtShape(s.shape)} but this run's is ${
          fmtShape([q, d])
        } (queue_size or the teacher's feature size changed)`,
      );
    }
    const data = s.data instanceof Float32Array ? s.data : Float32Array.from(s.data, Number);
    upload(this.#t.buffer, data);
  }

  /** Frees the queue. */
  dispose(): void {
    this.#t.dispose();
  }
}
