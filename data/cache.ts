/**
 * An in-memory cache of decoded, resized images under a byte budget, for datasets that fit:
 * images are kept first come, first kept, until the budget is spent, and never evicted (with
 * a shuffled order every epoch an evicting cache would mostly miss).
 *
 * @module
 */
import type { DecodedImage } from "./decode.ts";

/** Decoded images by dataset index, up to a byte budget. */
export class ImageCache {
  /** The budget in bytes. */
  readonly budget: number;
  /** Bytes held. */
  bytes = 0;
  /** Lookups that found their image. */
  hits = 0;
  /** Lookups that did not. */
  misses = 0;
  readonly #map = new Map<number, DecodedImage>();

  constructor(budget: number) {
    this.budget = Math.max(0, budget);
  }

  /** Images held. */
  get size(): number {
    return this.#map.size;
  }

  /** The image at `index`, if held. */
  get(index: number): DecodedImage | undefined {
    if (!this.budget) return undefined;
    const img = this.#map.get(index);
    if (img) this.hits++;
    else this.misses++;
    return img;
  }

  /** Keeps `img` if it fits in what is left of the budget; returns whether it was kept. */
  put(index: number, img: DecodedImage): boolean {
    if (this.#map.has(index)) return true;
    const n = img.data.byteLength;
    if (this.bytes + n > this.budget) return false;
    this.#map.set(index, img);
    this.bytes += n;
    return true;
  }
}
