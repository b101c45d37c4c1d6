import { distillationV1Loss } from "./loss.ts";
import { gramRef, klBatchmeanRef, normalizeRowsRef, updateQueueRef } from "../distillation/loss.ts";
import { initDevice, tensor } from "../../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("distillation v1 matches the reference for queues longer, shorter than B and zero", async () => {
  const b = 4, d = 6;
  const s = randomData(b * d, 1), t = randomData(b * d, 2);
  for (const [q, zero] of [[9, false], [9, true], [3, false]] as const) {
    const qd = zero ? new Float32Array(q * d) : randomData(q * d, 3);
    const [S, T, Q] = [tensor(s, [b, d]), tensor(t, [b, d]), tensor(qd, [q, d])];
    const r = distillationV1Loss(S, T, Q);
    const tn = normalizeRowsRef(t, b, d);
    const queue = updateQueueRef(
      Array.from({ length: q }, (_, i) => Array.from(qd.slice(i * d, (i + 1) * d))),
      tn,
    );
    const want = klBatchmeanRef(
      gramRef(normalizeRowsRef(s, b, d), queue),
      gramRef(tn, queue),
      b,
      q,
      0.07,
    );
    assertAllClose([await r.loss.item()], [want], 1e-5, 1e-6, `Q=${q} zero=${zero}`);
    assertAllClose(await r.queueNew.data(), queue.flat(), 1e-6, 1e-7, "queue");
    for (const x of [S, T, Q, r.loss, r.queueNew]) x.dispose();
  }
});

Deno.test("distillation v1 gradient", async () => {
  const T = tensor(randomData(12, 4), [3, 4]), Q = tensor(randomData(20, 5), [5, 4]);
  await gradcheck(
    (s) => distillationV1Loss(s, T, Q, { temperature: 0.5 }).loss,
    [{ data: randomData(12, 6), shape: [3, 4] }],
    { eps: 1e-3 },
  );
  T.dispose();
  Q.dispose();
});

Deno.test("distillation v1 rejects mismatched shapes", () => {
  const a = tensor(randomData(8), [2, 4]), q = tensor(randomData(15), [3, 5]);
  throws(() => distillationV1Loss(a, a, q), /distillation_v1: need/);
  a.dispose();
  q.dispose();
});
