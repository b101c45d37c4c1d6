import assert from "node:assert/strict";
import { bucketSize, initDevice, pool, tensor } from "./mod.ts";
import { add } from "../kernels/mod.ts";
import { trimMatmulTextures } from "../kernels/matmul_tex.ts";
import { trimConvTextures } from "../kernels/conv2d_tex.ts";

Deno.test("pool tracks the peak of live bytes until resetPeak", async () => {
  await initDevice();
  const a = tensor(new Float32Array(4096), [4096]); // 16 KiB
  pool.resetPeak();
  const base = pool.stats().liveBytes;
  assert.equal(pool.stats().peakLiveBytes, base, "resetPeak starts at the live bytes");
  const b = tensor(new Float32Array(8192), [8192]); // 32 KiB
  const c = tensor(new Float32Array(2048), [2048]); // 8 KiB
  const top = base + bucketSize(32768) + bucketSize(8192);
  b.dispose();
  c.dispose();
  const s = pool.stats();
  assert.equal(s.liveBytes, base, "live bytes fall back");
  assert.equal(s.peakLiveBytes, top, "the peak keeps the high-water mark");
  pool.resetPeak();
  assert.equal(pool.stats().peakLiveBytes, base, "resetPeak forgets the old peak");
  a.dispose();
  assert.equal(pool.stats().peakLiveBytes, base, "a release does not lower the peak");
});

Deno.test("trimming the pool submits encoded work first: a freed buffer it uses stays valid", async () => {
  await initDevice();
  const x = tensor(new Float32Array(1024).fill(2), [1024]);
  const tmp = add(x, x); // encoded, not submitted
  const y = add(tmp, x);
  tmp.dispose(); // back to the free list while the encoder still reads it
  pool.trim(); // destroys free buffers
  trimMatmulTextures();
  trimConvTextures();
  const v = await y.data(); // a destroyed buffer in the submit would raise a GPU error here
  assert.equal(v[0], 6);
  x.dispose();
  y.dispose();
});
