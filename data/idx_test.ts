// IDX files (MNIST / Fashion-MNIST format) and in-memory datasets through the loader.
import assert from "node:assert/strict";
import { parseIdx, readIdxDataset } from "./idx.ts";
import { describeData, type ImageArray, openImageArray } from "./array.ts";
import { createLoader } from "./loader.ts";
import { DataError } from "./files.ts";

function idxBytes(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out.set([0, 0, 8, shape.length]);
  const dv = new DataView(out.buffer);
  shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

async function gzip(b: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([b as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

const N = 10, H = 5, W = 4;
const pixels = Uint8Array.from({ length: N * H * W }, (_, i) => (i * 7) % 256);
const labels = Uint8Array.from({ length: N }, (_, i) => i % 3);

Deno.test("idx: gzipped images with their labels file; raw files read the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(
      `${dir}/train-images-idx3-ubyte.gz`,
      await gzip(idxBytes([N, H, W], pixels)),
    );
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, await gzip(idxBytes([N], labels)));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idxBytes([N, H, W], pixels));
    const a = await readIdxDataset(`${dir}/train-images-idx3-ubyte.gz`);
    assert.deepEqual([a.count, a.height, a.width, a.channels], [N, H, W, 1]);
    assert.deepEqual(a.images, pixels);
    assert.deepEqual([...a.labels!], [...labels]);
    const b = await readIdxDataset(`${dir}/t10k-images-idx3-ubyte`);
    assert.deepEqual(b.images, pixels);
    assert.equal(b.labels, undefined); // no labels file beside it
    // Uncompressed images find gzipped labels.
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idxBytes([N, H, W], pixels));
    const c = await readIdxDataset(`${dir}/train-images-idx3-ubyte`);
    assert.deepEqual([...c.labels!], [...labels]);
    assert.match(String(describeData(a)), /train-images-idx3-ubyte.gz \(10 images 5x4x1\)/);
    // A path that names an IDX file opens as an array; a folder does not.
    assert.equal((await openImageArray(`${dir}/t10k-images-idx3-ubyte`))?.count, N);
    assert.equal(await openImageArray(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idx: corrupt, truncated and mismatched files say what is wrong", async () => {
  assert.throws(() => parseIdx(new Uint8Array([1, 2, 3, 4])), /not an IDX file/);
  assert.throws(
    () => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])),
    /only unsigned bytes/,
  );
  const cut = idxBytes([N, H, W], pixels).subarray(0, 50);
  assert.throws(() => parseIdx(cut, "x"), /holds 34.*truncated or corrupt/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a-images-idx3-ubyte.gz`, new Uint8Array([31, 139, 8, 0, 1, 2]));
    await assert.rejects(() => readIdxDataset(`${dir}/a-images-idx3-ubyte.gz`), /corrupt/);
    await Deno.writeFile(`${dir}/b-images-idx3-ubyte`, idxBytes([N, H, W], pixels));
    await Deno.writeFile(`${dir}/b-labels-idx1-ubyte`, idxBytes([N - 1], labels.subarray(1)));
    await assert.rejects(() => readIdxDataset(`${dir}/b-images-idx3-ubyte`), /9 labels for 10/);
    await assert.rejects(() => readIdxDataset(`${dir}/missing-images-idx3-ubyte`), DataError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loader: an in-memory dataset gives shuffled fixed-shape batches of its own pixels", async () => {
  const a: ImageArray = {
    images: pixels,
    count: N,
    height: H,
    width: W,
    channels: 1,
    source: "mem",
  };
  const loader = await createLoader({ data: a, batchSize: 4, channels: 1, seed: 3 });
  assert.equal(loader.batchesPerEpoch, 2); // drop last
  const seen: number[] = [];
  for await (const b of loader.epoch(0)) {
    assert.deepEqual(b.shape, [4, 5, 5, 1]); // slots are max(H, W) square, image top-left
    b.indices.forEach((idx, j) => {
      assert.deepEqual(b.sizes[j], [H, W]);
      for (let y = 0; y < H; y++) {
        const row = b.images.subarray(j * 25 + y * 5, j * 25 + y * 5 + W);
        assert.deepEqual(row, pixels.subarray(idx * 20 + y * W, idx * 20 + (y + 1) * W));
      }
      seen.push(idx);
    });
    assert.match(b.filenames[0], /^mem#\d$/);
  }
  assert.equal(new Set(seen).size, 8);
  assert.deepEqual(loader.labels, null);
  loader.close();
  await assert.rejects(
    () => createLoader({ data: a, batchSize: 4, channels: 3 }),
    /1 channel\(s\) but 3/,
  );
  await assert.rejects(
    () => createLoader({ data: { ...a, count: 11 }, batchSize: 4 }),
    /200 bytes for 11 images of 5x4x1 \(expected 220\)/,
  );
});
