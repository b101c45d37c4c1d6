import { initDevice, tensor } from "../mod.ts";
import { assertAllClose, randomData } from "../testing.ts";
import { LARS, larsRef } from "./lars.ts";

Deno.test("LARS matches lightly: trust ratio for decayed groups, plain momentum otherwise", async () => {
  await initDevice();
  // 5000 elements: several partial sums per norm; a zero gradient: no trust ratio.
  const sizes = [5000, 7, 12];
  const ps = sizes.map((n, i) => tensor(randomData(n, 30 + i), [n]));
  const ref = sizes.map((n, i) => Float64Array.from(randomData(n, 30 + i)));
  const bufs = sizes.map((n) => new Float64Array(n));
  const opt = new LARS([
    { params: [ps[0], ps[2]], weightDecay: 1e-3 },
    { params: [ps[1]], weightDecay: 0 },
  ], { lr: 1.5, momentum: 0.9, trustCoefficient: 0.01 });
  const groupOf = [0, 1, 0];
  for (let step = 0; step < 3; step++) {
    ps.forEach((p, i) => {
      const g = i === 2 && step === 1
        ? new Float32Array(p.size)
        : randomData(p.size, 40 + 7 * step + i);
      p.grad?.dispose();
      p.grad = tensor(g, p.shape);
      const { params: _, ...h } = opt.groups[groupOf[i]];
      larsRef(ref[i], g, bufs[i], h, step === 0);
    });
    opt.step();
  }
  for (let i = 0; i < ps.length; i++) {
    assertAllClose(await ps[i].data(), ref[i], 1e-5, 1e-6, `param ${i}`);
  }
  const sd = await opt.stateDict();
  assertAllClose(sd.state[0].buffers.momentum_buffer, bufs[0], 1e-5, 1e-6, "buffer 0");
  opt.dispose();
  for (const p of ps) p.dispose();
});
