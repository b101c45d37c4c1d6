import assert from "node:assert/strict";
import { bucketSize, initDevice, pool, tensor } from "./mod.ts";

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
