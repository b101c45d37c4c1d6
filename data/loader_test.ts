import { deepStrictEqual, notDeepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { DataError } from "./files.ts";
import { HAVE_SHARP, touch, withTempDir } from "./fixtures_test.ts";
import {
  type BadImage,
  type Batch,
  createLoader,
  epochOrder,
  type LoaderOptions,
} from "./loader.ts";
import { loadSharp } from "./sharp.ts";

const ignore = !HAVE_SHARP;

/** The colour that identifies image `i`. */
function color(i: number): [number, number, number] {
  return [(i * 7) & 255, 255 - i * 3, (i * 13 + 5) & 255];
}

/** Writes `n` solid-colour PNGs `img_XX.png` of `w x h` (default 8x8) into `dir`. */
async function makeImages(dir: string, n: number, w = 8, h = 8): Promise<void> {
  const sharp = await loadSharp();
  for (let i = 0; i < n; i++) {
    const [r, g, b] = color(i);
    const png = await sharp({
      create: { width: w, height: h, channels: 3, background: { r, g, b } },
    })
      .png().toBuffer();
    await Deno.writeFile(`${dir}/img_${String(i).padStart(2, "0")}.png`, png);
  }
}

/** The colour of pixel (0, 0) of slot `j`. */
function slotColor(b: Batch, j: number): number[] {
  const [, S, , C] = b.shape;
  return Array.from(b.images.subarray(j * S * S * C, j * S * S * C + 3));
}

async function collect(opts: LoaderOptions, epochs = 1): Promise<Batch[]> {
  const loader = await createLoader(opts);
  try {
    const out: Batch[] = [];
    for await (const b of loader.batches({ epochs })) out.push(b);
    return out;
  } finally {
    loader.close();
  }
}

Deno.test("epochOrder: a permutation, same per (seed, epoch), different otherwise", () => {
  const a = epochOrder(50, 1, 0);
  deepStrictEqual([...a].sort((x, y) => x - y), [...Array(50).keys()]);
  deepStrictEqual(epochOrder(50, 1, 0), a);
  notDeepStrictEqual(epochOrder(50, 2, 0), a);
  notDeepStrictEqual(epochOrder(50, 1, 1), a);
});

Deno.test({
  name: "loader: batches in order with the right pixels, names and drop_last (workers 2 and 0)",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 10);
      const base = { data: dir, batchSize: 4, size: 8, shuffle: false, prefetch: 2 };
      for (const workers of [2, 0]) {
        const batches = await collect({ ...base, workers });
        strictEqual(batches.length, 2); // 10 images, drop_last
        batches.forEach((b, s) => {
          deepStrictEqual(b.shape, [4, 8, 8, 3]);
          strictEqual(b.images.length, 4 * 8 * 8 * 3);
          deepStrictEqual([b.epoch, b.step], [0, s]);
          deepStrictEqual(b.indices, [0, 1, 2, 3].map((k) => 4 * s + k));
          deepStrictEqual(
            b.filenames,
            b.indices.map((i) => `img_${String(i).padStart(2, "0")}.png`),
          );
          b.indices.forEach((i, j) => deepStrictEqual(slotColor(b, j), color(i)));
          deepStrictEqual(b.sizes, [[8, 8], [8, 8], [8, 8], [8, 8]]);
          ok(b.waitMs >= 0);
        });
      }
      const all = await collect({ ...base, workers: 1, dropLast: false });
      deepStrictEqual(all.map((b) => b.shape[0]), [4, 4, 2]);
      deepStrictEqual(all[2].indices, [8, 9]);
    });
  },
});

Deno.test({
  name: "loader: seeded shuffle is deterministic per seed and epoch, each image once per epoch",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 9);
      const opts = { data: dir, batchSize: 3, size: 8, workers: 1, seed: 7 };
      const a = await collect(opts, 2);
      const b = await collect(opts, 2);
      const order = (bs: Batch[], e: number) =>
        bs.filter((x) => x.epoch === e).flatMap((x) => x.indices);
      deepStrictEqual(order(a, 0), order(b, 0));
      deepStrictEqual(order(a, 1), order(b, 1));
      notDeepStrictEqual(order(a, 0), order(a, 1));
      deepStrictEqual([...order(a, 0)].sort(), [...Array(9).keys()]);
      deepStrictEqual(order(a, 0), Array.from(epochOrder(9, 7, 0)));
      for (const x of a) x.indices.forEach((i, j) => deepStrictEqual(slotColor(x, j), color(i)));
      const c = await collect({ ...opts, seed: 8 }, 1);
      notDeepStrictEqual(order(c, 0), order(a, 0));
      // Resuming at (epoch 1, step 1) gives the same batches as the full run.
      const loader = await createLoader(opts);
      const resumed: number[][] = [];
      for await (const x of loader.epoch(1, 1)) resumed.push(x.indices);
      loader.close();
      deepStrictEqual(resumed, a.filter((x) => x.epoch === 1).slice(1).map((x) => x.indices));
    });
  },
});

Deno.test({
  name: "loader: corrupt and truncated images are substituted, reported once, summarized",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 6);
      const good = await Deno.readFile(`${dir}/img_01.png`);
      await Deno.writeFile(`${dir}/img_02.png`, good.subarray(0, good.length - 30)); // truncated
      await Deno.writeFile(`${dir}/img_04.png`, new TextEncoder().encode("garbage")); // corrupt
      const bad: BadImage[] = [];
      const loader = await createLoader({
        data: dir,
        batchSize: 3,
        size: 8,
        workers: 1,
        shuffle: false,
        prefetch: 0, // decode counts below are exact only without look-ahead
        onBadImage: (b) => bad.push(b),
      });
      const batches: Batch[] = [];
      for await (const b of loader.batches({ epochs: 2 })) batches.push(b);
      const decoded = loader.summary().decoded;
      strictEqual(batches.length, 4);
      deepStrictEqual(bad.map((b) => b.name).sort(), ["img_02.png", "img_04.png"]);
      for (const b of batches) {
        deepStrictEqual(b.shape, [3, 8, 8, 3]);
        b.indices.forEach((i, j) => deepStrictEqual(slotColor(b, j), color(i)));
        ok(!b.indices.includes(2) && !b.indices.includes(4));
      }
      // Slot 2 of batch 0 (img_02) gets the next good image of its batch, cyclically: img_00.
      deepStrictEqual(batches[0].indices, [0, 1, 0]);
      deepStrictEqual(batches[0].substituted, [{
        position: 2,
        index: 2,
        name: "img_02.png",
        substitute: 0,
      }]);
      const s = loader.summary();
      strictEqual(s.substitutions, 4);
      deepStrictEqual(s.badImages.map((b) => [b.name, b.substitutions]), [["img_02.png", 2], [
        "img_04.png",
        2,
      ]]);
      ok(loader.formatSummary().includes("bad image: img_04.png"));
      // The probe decodes img_00; bad images are not decoded again in the second epoch.
      strictEqual(decoded, 1 + 6 + 4);
      loader.close();
    });
  },
});

Deno.test({
  name: "loader: a batch of only bad images falls back to the probed good image",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 1);
      await touch(`${dir}/z1.png`, new Uint8Array([1, 2, 3]));
      await touch(`${dir}/z2.png`, new Uint8Array([1, 2, 3]));
      const bs = await collect({ data: dir, batchSize: 2, size: 8, workers: 0, shuffle: false });
      deepStrictEqual(bs.map((b) => b.indices), [[0, 0]]); // [img_00, z1] -> z1 replaced
      const loader = await createLoader({
        data: dir,
        batchSize: 1,
        size: 8,
        workers: 0,
        shuffle: false,
      });
      const all: number[][] = [];
      for await (const b of loader.epoch(0)) all.push(b.indices);
      deepStrictEqual(all, [[0], [0], [0]]);
      loader.close();
    });
  },
});

Deno.test({
  name: "loader: no images, only bad images, missing folder: errors before training",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await rejects(createLoader({ data: `${dir}/nope`, batchSize: 1 }), (e: Error) => {
        ok(e instanceof DataError && e.message.includes(`${dir}/nope`), e.message);
        return true;
      });
      await touch(`${dir}/empty/readme.md`);
      await rejects(createLoader({ data: `${dir}/empty`, batchSize: 1 }), (e: Error) => {
        ok(e instanceof DataError && /accepted extensions: jpg/.test(e.message), e.message);
        return true;
      });
      await touch(`${dir}/bad/a.jpg`, new TextEncoder().encode("no"));
      await touch(`${dir}/bad/b.png`);
      const seen: string[] = [];
      await rejects(
        createLoader({
          data: `${dir}/bad`,
          batchSize: 1,
          workers: 1,
          onBadImage: (b) => seen.push(b.name),
        }),
        (e: Error) => {
          ok(e instanceof DataError, String(e));
          ok(
            e.message.includes("none of the 2 images") && e.message.includes(`${dir}/bad`),
            e.message,
          );
          return true;
        },
      );
      deepStrictEqual(seen, ["a.jpg", "b.png"]);
      await makeImages(`${dir}/bad`, 1);
      await rejects(createLoader({ data: `${dir}/bad`, batchSize: 5 }), /fewer than one batch/);
    });
  },
});

Deno.test({
  name: "loader: fit mode pads top-left and reports sizes; cache avoids re-decoding",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 2, 16, 8); // 16x8 -> 8x4 at S = 8
      const loader = await createLoader({
        data: dir,
        batchSize: 2,
        size: 8,
        workers: 1,
        shuffle: false,
        cacheBytes: 1 << 20,
      });
      const first: Batch[] = [];
      for await (const b of loader.batches({ epochs: 3 })) first.push(b);
      const b = first[0];
      deepStrictEqual(b.sizes, [[4, 8], [4, 8]]);
      const S = 8, C = 3;
      deepStrictEqual(Array.from(b.images.subarray(3 * S * C, 3 * S * C + 3)), color(0)); // row 3
      deepStrictEqual(Array.from(b.images.subarray(4 * S * C, 4 * S * C + 3)), [0, 0, 0]); // padding
      const s = loader.summary();
      strictEqual(s.decoded, 2); // each image once (probe, then in flight or cached)
      strictEqual(s.cache.images, 2);
      strictEqual(s.cache.bytes, 2 * 8 * 4 * 3);
      ok(s.cache.hits >= 3, `${s.cache.hits} hits`);
      ok(s.timing.batches === 2 && s.timing.dataWait >= 0 && s.timing.dataWait <= 1);
      loader.close();
    });
  },
});

Deno.test({
  name: "loader: breaking out early drops pending work; a later epoch still works",
  ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeImages(dir, 12);
      const loader = await createLoader({
        data: dir,
        batchSize: 2,
        size: 8,
        workers: 2,
        prefetch: 3,
      });
      for await (const b of loader.batches()) {
        if (b.step === 1) break;
      }
      const got: number[][] = [];
      for await (const b of loader.epoch(5)) got.push(b.indices);
      deepStrictEqual(got.flat().sort((x, y) => x - y), [...Array(12).keys()]);
      loader.close();
    });
  },
});
