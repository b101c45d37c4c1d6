import assert from "node:assert/strict";
import { initDevice, tensor } from "../mod.ts";
import { assertAllClose, randomData } from "../testing.ts";
import { SGD, type SGDGroup, sgdRef } from "./sgd.ts";

async function runVariant(hyper: Partial<Omit<SGDGroup, "params">>, seed: number) {
  const n = 300;
  const p = tensor(randomData(n, seed), [3, 100]);
  const refP = Float64Array.from(randomData(n, seed));
  const refBuf = new Float64Array(n);
  const opt = new SGD([p], { lr: 0.1, ...hyper });
  for (let step = 0; step < 3; step++) {
    const g = randomData(n, seed * 10 + step);
    p.grad?.dispose();
    p.grad = tensor(g, p.shape);
    opt.groups[0].lr = 0.1 / (step + 1);
    const { params: _, ...h } = opt.groups[0];
    sgdRef(refP, g, refBuf, h, step === 0);
    opt.step();
  }
  assertAllClose(await p.data(), refP, 1e-5, 1e-6, `param ${JSON.stringify(hyper)}`);
  const sd = await opt.stateDict();
  if (hyper.momentum) {
    assertAllClose(sd.state[0].buffers.momentum_buffer, refBuf, 1e-5, 1e-6, "momentum buffer");
  } else assert.deepEqual(Object.keys(sd.state[0].buffers), []);
  opt.dispose();
  p.dispose();
}

Deno.test("SGD matches torch: plain, momentum with dampening, Nesterov, weight decay", async () => {
  await initDevice();
  await runVariant({}, 1);
  await runVariant({ weightDecay: 0.01 }, 2);
  await runVariant({ momentum: 0.9, dampening: 0.3, weightDecay: 1e-3 }, 3);
  await runVariant({ momentum: 0.9, nesterov: true, weightDecay: 1e-4 }, 4);
});

Deno.test("SGD rejects Nesterov without momentum or with dampening", async () => {
  await initDevice();
  const p = tensor([1], [1]);
  assert.throws(() => new SGD([p], { nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD([p], { nesterov: true, momentum: 0.9, dampening: 0.1 }), /Nesterov/);
  p.dispose();
});

Deno.test("SGD state dict: a loaded momentum buffer is used, a missing one restarts", async () => {
  await initDevice();
  const p = tensor([1, 1], [2]);
  const opt = new SGD([p], { lr: 1, momentum: 0.5 });
  opt.loadStateDict({
    kind: "sgd",
    groups: [{ lr: 1 }],
    state: [{ step: 0, buffers: { momentum_buffer: new Float32Array([2, 4]) } }],
  });
  p.grad = tensor([1, 2], [2]);
  opt.step(); // buf = 0.5*[2,4] + [1,2] = [2,4]; p = 1 - buf
  assert.deepEqual([...await p.data()], [-1, -3]);
  opt.loadStateDict({ kind: "sgd", groups: [{ lr: 1 }], state: [{ step: 5, buffers: {} }] });
  opt.step(); // buf = g
  assert.deepEqual([...await p.data()], [-2, -5]);
  opt.dispose();
  p.dispose();
});
