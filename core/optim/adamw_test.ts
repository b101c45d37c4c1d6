import assert from "node:assert/strict";
import { initDevice, tensor } from "../mod.ts";
import { assertAllClose, randomData } from "../testing.ts";
import { AdamW, adamwRef } from "./adamw.ts";
import { cosineWarmupSchedule } from "../schedule.ts";

Deno.test("AdamW matches the torch formula over steps with a changing lr and weight decay", async () => {
  await initDevice();
  const shapes = [[7, 50], [5]];
  const ps = shapes.map((s, i) => tensor(randomData(s[0] * (s[1] ?? 1), 10 + i), s));
  const frozen = tensor(randomData(4, 99), [4]); // no gradient: must be skipped
  const refP = ps.map((_, i) => Float64Array.from(randomData(ps[i].size, 10 + i)));
  const refM = ps.map((p) => new Float64Array(p.size));
  const refV = ps.map((p) => new Float64Array(p.size));
  const opt = new AdamW([{ params: [ps[0], frozen], weightDecay: 0.05 }, { params: [ps[1]] }], {
    lr: 1e-2,
    betas: [0.8, 0.99],
  });
  for (let step = 0; step < 4; step++) {
    const lr = 1e-2 * cosineWarmupSchedule(step, 4, 1, 0.1, 2);
    opt.groups[0].lr = lr;
    opt.groups[1].lr = 2 * lr;
    opt.groups[0].weightDecay = 0.05 * (step + 1);
    ps.forEach((p, i) => {
      const g = randomData(p.size, 100 * step + i);
      p.grad?.dispose();
      p.grad = tensor(g, p.shape);
      const { params: _, ...hyper } = opt.groups[i];
      adamwRef(refP[i], g, refM[i], refV[i], hyper, step);
    });
    opt.step();
  }
  for (let i = 0; i < ps.length; i++) {
    assertAllClose(await ps[i].data(), refP[i], 1e-5, 1e-6, `param ${i}`);
  }
  const sd = await opt.stateDict();
  assert.deepEqual(sd.state.map((s) => s.step), [4, 0, 4]);
  assertAllClose(sd.state[0].buffers.exp_avg, refM[0], 1e-5, 1e-6, "exp_avg");
  assertAllClose(sd.state[2].buffers.exp_avg_sq, refV[1], 1e-5, 1e-6, "exp_avg_sq");
  assert.deepEqual([...await frozen.data()], [...randomData(4, 99)]);
  opt.dispose();
  for (const p of [...ps, frozen]) p.dispose();
});

Deno.test("AdamW state dict round trip continues identically", async () => {
  await initDevice();
  const init = randomData(40, 3);
  const a = tensor(init, [40]), b = tensor(init, [40]);
  const optA = new AdamW([a], { lr: 0.05 });
  for (let s = 0; s < 3; s++) {
    a.grad?.dispose();
    a.grad = tensor(randomData(40, 20 + s), [40]);
    optA.step();
  }
  const sd = await optA.stateDict();
  b.dispose();
  const b2 = tensor(await a.data(), [40]);
  const optB = new AdamW([b2]);
  optB.loadStateDict(sd);
  assert.equal(optB.groups[0].lr, 0.05);
  const g = randomData(40, 77);
  a.grad!.dispose();
  a.grad = tensor(g, [40]);
  b2.grad = tensor(g, [40]);
  optA.step();
  optB.step();
  assert.deepEqual([...await b2.data()], [...await a.data()]);
  assert.throws(() => optB.loadStateDict({ ...sd, kind: "sgd" }), /'sgd' optimizer/);
  optA.dispose();
  optB.dispose();
  a.dispose();
  b2.dispose();
});

Deno.test("zeroGrad fills gradients with zeros or drops them", async () => {
  await initDevice();
  const p = tensor([1, 2, 3], [3]);
  p.grad = tensor([4, 5, 6], [3]);
  const opt = new AdamW([p]);
  opt.zeroGrad();
  assert.deepEqual([...await p.grad.data()], [0, 0, 0]);
  opt.zeroGrad(true);
  assert.equal(p.grad, null);
  opt.step(); // nothing to do without gradients
  assert.deepEqual([...await p.data()], [1, 2, 3]);
  opt.dispose();
  p.dispose();
});
