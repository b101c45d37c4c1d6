/**
 * Web Worker entry of the decode pool: loads sharp once, then reads and decodes the files it
 * is sent, replying with the pixels (transferred, not copied) or the reason the image is bad.
 *
 * Protocol: `{ type: "init", opts }` -> `{ type: "ready" }` or `{ type: "fatal", error }`;
 * `{ type: "decode", id, path }` -> `{ type: "done", id, image, ms }` or
 * `{ type: "bad", id, error, ms }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { decodeFile, type DecodeOptions } from "./decode.ts";
import { loadSharp } from "./sharp.ts";

let opts: DecodeOptions | null = null;

self.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  if (msg.type === "init") {
    try {
      const sharp = await loadSharp();
      sharp.concurrency(1); // parallelism comes from the pool, one image per thread
      opts = msg.opts;
      self.postMessage({ type: "ready" });
    } catch (err) {
      self.postMessage({ type: "fatal", error: (err as Error).message ?? String(err) });
    }
    return;
  }
  if (msg.type !== "decode") return;
  const t0 = performance.now();
  try {
    const image = await decodeFile(msg.path, opts!);
    const ms = performance.now() - t0;
    self.postMessage({ type: "done", id: msg.id, image, ms }, [image.data.buffer]);
  } catch (err) {
    const ms = performance.now() - t0;
    self.postMessage({ type: "bad", id: msg.id, error: (err as Error).message ?? String(err), ms });
  }
};
