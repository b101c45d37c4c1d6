// A small MLP trained for 1,000 SGD steps, each inside tidy(): the pool's live bytes must stay
// exactly at their level after the first step, the tape must be empty after every step, and
// the loss must go down. Nothing is read back inside the loop.
import assert from "node:assert/strict";
import {
  backward,
  initDevice,
  noGrad,
  pool,
  SGD,
  tapeLength,
  type Tensor,
  tensor,
  tidy,
} from "../core/mod.ts";
import { linear, mean, relu, square, sub } from "../kernels/mod.ts";
import { randomData } from "../core/testing.ts";

const STEPS = 1000;

Deno.test("1,000 training steps in tidy() leak no GPU memory and leave no tape", async () => {
  await initDevice();
  const batch = 8;
  const params = {
    w1: tensor(randomData(32 * 16, 1).map((v) => v * 0.25), [32, 16]).requireGrad(),
    b1: tensor(randomData(32, 2).map((v) => v * 0.1), [32]).requireGrad(),
    w2: tensor(randomData(4 * 32, 3).map((v) => v * 0.18), [4, 32]).requireGrad(),
    b2: tensor(randomData(4, 4).map((v) => v * 0.1), [4]).requireGrad(),
  };
  const x = tensor(randomData(batch * 16, 5), [batch, 16]);
  const y = tensor(randomData(batch * 4, 6), [batch, 4]);
  const loss = (): Tensor => {
    const h = relu(linear(x, params.w1, params.b1));
    return mean(square(sub(linear(h, params.w2, params.b2), y)));
  };
  const opt = new SGD(Object.values(params), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });

  const first = tidy(() => noGrad(loss));
  const startLoss = await first.item();
  first.dispose();

  let level = -1;
  for (let step = 0; step < STEPS; step++) {
    tidy(() => {
      backward(loss());
      opt.step();
      opt.zeroGrad();
    });
    const live = pool.stats().liveBytes;
    if (step === 0) level = live;
    else if (live !== level) {
      assert.fail(`step ${step + 1}: ${live} live bytes, ${level} after step 1`);
    }
    if (tapeLength() !== 0) assert.fail(`step ${step + 1}: ${tapeLength()} nodes left on the tape`);
  }

  const last = tidy(() => noGrad(loss));
  const endLoss = await last.item();
  last.dispose();
  assert.ok(endLoss < startLoss * 0.5, `loss ${startLoss} -> ${endLoss} did not decrease`);

  opt.dispose();
  for (const t of [...Object.values(params), x, y]) t.dispose();
});
