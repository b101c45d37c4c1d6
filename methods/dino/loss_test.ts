import { dinoLoss, dinoLossRef } from "./loss.ts";
import { initDevice, tensor } from "../../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("dino loss and center update match the reference (2 global + 3 local views)", async () => {
  const t = 2, s = 5, b = 3, d = 70;
  const to = randomData(t * b * d, 1).map((v) => v * 2);
  const so = randomData(s * b * d, 2).map((v) => v * 2);
  const c = randomData(d, 3).map((v) => v * 0.3);
  const [T, S, C] = [tensor(to, [t, b, d]), tensor(so, [s, b, d]), tensor(c, [1, d])];
  const r = dinoLoss(T, S, C, { teacherTemp: 0.04 });
  const [loss, center] = dinoLossRef(to, so, c, { t, s, b, d }, 0.04);
  assertAllClose([await r.loss.item()], [loss], 1e-5, 1e-6, "loss");
  assertAllClose(await r.centerNew.data(), center, 1e-5, 1e-6, "center");
  const p = await r.teacherProbs.data();
  let rowSum = 0;
  for (let k = 0; k < d; k++) rowSum += p[k];
  assertAllClose([rowSum], [1], 1e-5, 1e-6, "teacher probs row");
  for (const x of [T, S, C, r.loss, r.centerNew, r.teacherProbs]) x.dispose();
});

Deno.test("dino loss gradient (student only; teacher and center are constants)", async () => {
  const t = 2, s = 4, b = 2, d = 5;
  const T = tensor(randomData(t * b * d, 4), [t, b, d]);
  const C = tensor(randomData(d, 5).map((v) => v * 0.1), [1, d]);
  const x = { data: randomData(s * b * d, 6).map((v) => v * 0.3), shape: [s, b, d] };
  await gradcheck((a) => dinoLoss(T, a, C, { teacherTemp: 0.5 }).loss, [x], { eps: 1e-3 });
  T.dispose();
  C.dispose();
});

Deno.test("dino loss rejects mismatched views", () => {
  const T = tensor(randomData(12), [2, 2, 3]), S = tensor(randomData(16), [2, 2, 4]);
  const C = tensor(randomData(3), [1, 3]);
  throws(() => dinoLoss(T, S, C, { teacherTemp: 0.04 }), /dino_loss: student \[2, 2, 4\]/);
  for (const x of [T, S, C]) x.dispose();
});
