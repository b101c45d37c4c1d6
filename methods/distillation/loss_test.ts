import {
  distillationV3Loss,
  gramRef,
  klBatchmean,
  klBatchmeanRef,
  normalizeRowsRef,
  updateQueue,
  updateQueueRef,
} from "./loss.ts";
import { initDevice, type Tensor, tensor } from "../../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("queue update: shift by B, or the first Q of the batch when B >= Q", async () => {
  const d = 3;
  const x = tensor(randomData(4 * d, 1), [4, d]);
  for (const q of [10, 4, 3]) {
    const queue = tensor(randomData(q * d, 2), [q, d]);
    const rows = (a: ArrayLike<number>, n: number) =>
      Array.from({ length: n }, (_, r) => Array.from({ length: d }, (_, k) => a[r * d + k]));
    const want = updateQueueRef(rows(await queue.data(), q), rows(await x.data(), 4)).flat();
    const got = updateQueue(queue, x);
    assertAllClose(await got.data(), want, 0, 0, `Q=${q}`);
    got.dispose();
    queue.dispose();
  }
  x.dispose();
});

Deno.test("kl batchmean matches the reference and its gradient", async () => {
  const s = randomData(5 * 7, 3).map((v) => v * 3), t = randomData(5 * 7, 4).map((v) => v * 3);
  const [S, T] = [tensor(s, [5, 7]), tensor(t, [5, 7])];
  const kl = klBatchmean(S, T, 0.5);
  assertAllClose([await kl.item()], [klBatchmeanRef(s, t, 5, 7, 0.5)], 1e-5, 1e-6);
  await gradcheck((a) => klBatchmean(a, T, 0.5), [{ data: s, shape: [5, 7] }], { eps: 1e-3 });
  for (const x of [S, T, kl]) x.dispose();
});

Deno.test("distillation v3 matches the reference (global, local, total, queue)", async () => {
  const b = 3, n = 4, d = 6, q = 5, tg = 0.07, tl = 0.1;
  const data = {
    teacherGlobal: randomData(b * d, 5),
    teacherLocal: randomData(b * n * d, 6),
    studentGlobal: randomData(b * d, 7),
    studentLocal: randomData(b * n * d, 8),
    queue: randomData(q * d, 9),
  };
  const ts = {
    teacherGlobal: tensor(data.teacherGlobal, [b, d]),
    teacherLocal: tensor(data.teacherLocal, [b, n, d]),
    studentGlobal: tensor(data.studentGlobal, [b, d]),
    studentLocal: tensor(data.studentLocal, [b, n, d]),
    queue: tensor(data.queue, [q, d]),
  };
  const r = distillationV3Loss(ts, {
    temperatureGlobal: tg,
    temperatureLocal: tl,
    localWeight: 0.5,
  });
  const tgn = normalizeRowsRef(data.teacherGlobal, b, d);
  const queue = updateQueueRef(
    Array.from({ length: q }, (_, i) => Array.from(data.queue.slice(i * d, (i + 1) * d))),
    tgn,
  );
  const sgn = normalizeRowsRef(data.studentGlobal, b, d);
  const glob = klBatchmeanRef(gramRef(sgn, queue), gramRef(tgn, queue), b, q, tg);
  const tln = normalizeRowsRef(data.teacherLocal, b * n, d);
  const sln = normalizeRowsRef(data.studentLocal, b * n, d);
  const tt: number[] = [], ss: number[] = [];
  for (let i = 0; i < b; i++) {
    tt.push(...gramRef(tln.slice(i * n, (i + 1) * n), tln.slice(i * n, (i + 1) * n)));
    ss.push(...gramRef(sln.slice(i * n, (i + 1) * n), sln.slice(i * n, (i + 1) * n)));
  }
  const loc = klBatchmeanRef(ss, tt, b * n, n, tl);
  assertAllClose([await r.globalLoss.item()], [glob], 1e-5, 1e-6, "global");
  assertAllClose([await r.localLoss.item()], [loc], 1e-5, 1e-6, "local");
  assertAllClose([await r.loss.item()], [glob + 0.5 * loc], 1e-5, 1e-6, "total");
  assertAllClose(await r.queueNew.data(), queue.flat(), 1e-6, 1e-7, "queue");
  for (const x of [...Object.values(r), ...Object.values(ts)]) (x as Tensor).dispose();
});

Deno.test("distillation v3 gradients", async () => {
  const b = 2, n = 3, d = 4;
  const tg = tensor(randomData(b * d, 10), [b, d]);
  const tl = tensor(randomData(b * n * d, 11), [b, n, d]);
  const queue = tensor(randomData(3 * d, 12), [3, d]);
  await gradcheck(
    (sg, sl) =>
      distillationV3Loss(
        { teacherGlobal: tg, teacherLocal: tl, studentGlobal: sg, studentLocal: sl, queue },
        { temperatureGlobal: 0.5, temperatureLocal: 0.5 },
      ).loss,
    [{ data: randomData(b * d, 13), shape: [b, d] }, {
      data: randomData(b * n * d, 14),
      shape: [b, n, d],
    }],
    { eps: 1e-3 },
  );
  for (const x of [tg, tl, queue]) x.dispose();
});

Deno.test("distillation v3 rejects mismatched shapes", () => {
  const a = tensor(randomData(8), [2, 4]), l = tensor(randomData(24), [2, 3, 4]);
  const q = tensor(randomData(15), [3, 5]);
  throws(
    () =>
      distillationV3Loss({
        teacherGlobal: a,
        teacherLocal: l,
        studentGlobal: a,
        studentLocal: l,
        queue: q,
      }),
    /distillation_v3: need/,
  );
  for (const x of [a, l, q]) x.dispose();
});
