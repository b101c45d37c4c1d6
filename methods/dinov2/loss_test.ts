import {
  dinov2DinoLoss,
  dinov2IbotLoss,
  dinov2Loss,
  ibotMasksWeight,
  ibotMasksWeightRef,
  koleoLoss,
  koleoLossRef,
  sinkhornKnopp,
  sinkhornKnoppRef,
  weightedCrossEntropyRef,
} from "./loss.ts";
import { initDevice, type Tensor, tensor } from "../../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { deepEqual, throws } from "node:assert/strict";

await initDevice();

function disposeAll(...ts: (Tensor | null)[]): void {
  for (const t of ts) t?.dispose();
}

Deno.test("sinkhorn-knopp matches the upstream formula; rows sum to 1 even for huge scores", async () => {
  const r = 6, k = 150;
  const data = randomData(r * k, 1).map((v) => v * 2);
  const t = tensor(data, [r, k]);
  for (const iters of [1, 3]) {
    const q = sinkhornKnopp(t, 0.1, iters);
    assertAllClose(
      await q.data(),
      sinkhornKnoppRef(data, r, k, 0.1, iters),
      1e-5,
      1e-6,
      `${iters}`,
    );
    q.dispose();
  }
  const big = tensor(data.map((v) => v * 50), [r, k]);
  const qt = sinkhornKnopp(big, 0.04);
  const q = Array.from(await qt.data());
  qt.dispose();
  for (let i = 0; i < r; i++) {
    assertAllClose([q.slice(i * k, (i + 1) * k).reduce((a, v) => a + v, 0)], [1], 1e-5, 1e-6);
  }
  disposeAll(t, big);
});

Deno.test("ibot masks weight follows nonzero order", async () => {
  const crops = 70, patches = 9;
  const m = Array.from(randomData(crops * patches, 2), (v) => (v > 0.6 ? 1 : 0));
  const ref = ibotMasksWeightRef(m, crops, patches);
  const masks = tensor(m, [crops, patches], "i32");
  const w = ibotMasksWeight(masks, ref.length);
  assertAllClose(await w.data(), ref, 1e-6, 0);
  disposeAll(masks, w);
});

Deno.test("koleo loss and neighbours match the reference (2 chunks of 70)", async () => {
  const n = 140, e = 5;
  const data = randomData(n * e, 3);
  const x = tensor(data, [n, e]);
  const r = koleoLoss(x, { chunks: 2 });
  const [loss, idx] = koleoLossRef(data, n, e, 2);
  assertAllClose([await r.loss.item()], [loss], 1e-5, 1e-6);
  deepEqual(Array.from(await r.nnIndex.data()), idx);
  deepEqual(r.nnIndex.shape, [2, 70]);
  disposeAll(x, r.loss, r.nnIndex);
});

Deno.test("koleo gradient (to each row and through its neighbour)", async () => {
  const x = { data: randomData(18, 4), shape: [6, 3] };
  await gradcheck((a) => koleoLoss(a, { chunks: 2 }).loss, [x], { eps: 1e-3 });
});

Deno.test("dinov2 dino loss: both centerings against the reference", async () => {
  const g = 2, l = 3, b = 3, k = 20, tt = 0.07, st = 0.1;
  const sg = randomData(g * b * k, 5), sl = randomData(l * b * k, 6);
  const tc = randomData(g * b * k, 7).map((v) => v * 0.5);
  const swapped = [...tc.slice(b * k), ...tc.slice(0, b * k)];
  const c = randomData(k, 8).map((v) => v * 0.3);
  const [SG, SL, TC, C] = [
    tensor(sg, [g * b, k]),
    tensor(sl, [l * b, k]),
    tensor(tc, [g * b, k]),
    tensor(c, [1, k]),
  ];
  const denom = (g - 1) * g + l * g;
  for (const centering of ["sinkhorn_knopp", "softmax"] as const) {
    const p = centering === "softmax" ? swapped.map((v, i) => v - c[i % k]) : swapped;
    let probs: number[];
    if (centering === "softmax") {
      probs = [];
      for (let r = 0; r < g * b; r++) {
        const row = p.slice(r * k, (r + 1) * k).map((v) => v / tt);
        const m = Math.max(...row);
        const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
        probs.push(...row.map((v) => Math.exp(v - m) / s));
      }
    } else probs = Array.from(sinkhornKnoppRef(p, g * b, k, tt));
    const global = weightedCrossEntropyRef(probs, sg, g * b, k, st) / (g * b) * 2 / denom;
    let local = 0;
    for (let li = 0; li < l; li++) {
      for (let gi = 0; gi < g; gi++) {
        local += weightedCrossEntropyRef(
          probs.slice(gi * b * k, (gi + 1) * b * k),
          sl.slice(li * b * k, (li + 1) * b * k),
          b,
          k,
          st,
        ) / b;
      }
    }
    const r = dinov2DinoLoss(SG, SL, TC, { teacherTemp: tt, centering, center: C });
    assertAllClose([await r.lossGlobal.item()], [global], 1e-5, 1e-6, `${centering} global`);
    assertAllClose([await r.lossLocal.item()], [local / denom], 1e-5, 1e-6, `${centering} local`);
    assertAllClose(await r.teacherProbs.data(), probs, 1e-5, 1e-6, `${centering} probs`);
    if (centering === "softmax") {
      const cn = c.map((v, j) => {
        let s = 0;
        for (let q = 0; q < g * b; q++) s += tc[q * k + j];
        return 0.9 * v + 0.1 * s / (g * b);
      });
      assertAllClose(await r.centerNew!.data(), cn, 1e-5, 1e-6, "center");
    } else if (r.centerNew !== null) throw new Error("sinkhorn-knopp has no center");
    disposeAll(r.lossGlobal, r.lossLocal, r.teacherProbs, r.centerNew);
  }
  disposeAll(SG, SL, TC, C);
});

Deno.test("dinov2 dino loss gradients", async () => {
  const b = 2, k = 5;
  const TC = tensor(randomData(2 * b * k, 9), [2 * b, k]);
  const sg = { data: randomData(2 * b * k, 10).map((v) => v * 0.3), shape: [2 * b, k] };
  const sl = { data: randomData(3 * b * k, 11).map((v) => v * 0.3), shape: [3 * b, k] };
  await gradcheck(
    (a, c) => {
      const r = dinov2DinoLoss(a, c, TC, { teacherTemp: 0.5, centering: "sinkhorn_knopp" });
      return r.lossGlobal;
    },
    [sg, sl],
    { eps: 1e-3, check: [0] },
  );
  await gradcheck(
    (a, c) => {
      const r = dinov2DinoLoss(a, c, TC, { teacherTemp: 0.5, centering: "sinkhorn_knopp" });
      return r.lossLocal;
    },
    [sg, sl],
    { eps: 1e-3, check: [1] },
  );
  TC.dispose();
});

Deno.test("dinov2 ibot loss against the reference, and its gradient", async () => {
  const crops = 4, patches = 5, k = 12, tt = 0.07, st = 0.1;
  const mk = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0];
  const m = mk.reduce((a, v) => a + v, 0);
  const s = randomData(m * k, 12), t = randomData(m * k, 13);
  const [S, T, M] = [tensor(s, [m, k]), tensor(t, [m, k]), tensor(mk, [crops, patches], "i32")];
  const r = dinov2IbotLoss(S, T, M, { teacherTemp: tt, centering: "sinkhorn_knopp" });
  const w = ibotMasksWeightRef(mk, crops, patches);
  const probs = sinkhornKnoppRef(t, m, k, tt);
  const ref = weightedCrossEntropyRef(probs, s, m, k, st, w) / crops;
  assertAllClose([await r.loss.item()], [ref], 1e-5, 1e-6, "loss");
  assertAllClose(await r.masksWeight.data(), w, 1e-6, 0, "weights");
  disposeAll(r.loss, r.teacherProbs, r.masksWeight);
  const x = { data: s.map((v) => v * 0.3), shape: [m, k] };
  await gradcheck(
    (a) => dinov2IbotLoss(a, T, M, { teacherTemp: 0.5, centering: "sinkhorn_knopp" }).loss,
    [x],
    { eps: 1e-3 },
  );
  disposeAll(S, T, M);
});

Deno.test("dinov2 total loss is the weighted sum of its parts", async () => {
  const b = 2, k = 8;
  const mk = [1, 0, 1, 0, 0, 0, 1, 1];
  const inputs = {
    studentClsGlobal: tensor(randomData(2 * b * k, 14), [2 * b, k]),
    studentClsLocal: tensor(randomData(2 * b * k, 15), [2 * b, k]),
    teacherCls: tensor(randomData(2 * b * k, 16), [2 * b, k]),
    studentPatchMasked: tensor(randomData(4 * k, 17), [4, k]),
    teacherPatchMasked: tensor(randomData(4 * k, 18), [4, k]),
    masks: tensor(mk, [4, 2], "i32"),
    studentClsBeforeHead: tensor(randomData(2 * b * 3, 19), [2 * b, 3]),
  };
  const r = dinov2Loss(inputs, { teacherTemp: 0.07, centering: "sinkhorn_knopp" });
  const parts = await Promise.all(
    [r.dinoGlobalLoss, r.dinoLocalLoss, r.ibotLoss, r.koleoLoss].map((t) => t.item()),
  );
  const want = parts[0] + parts[1] + parts[2] + 0.1 * parts[3];
  assertAllClose([await r.loss.item()], [want], 1e-5, 1e-6);
  disposeAll(...Object.values(inputs), ...Object.values(r));
});

Deno.test("dinov2 losses reject bad inputs", () => {
  const a = tensor(randomData(12), [3, 4]);
  throws(() => dinov2DinoLoss(a, null, a, { teacherTemp: 0.07 }), /dinov2_dino_loss: need/);
  const b = tensor(randomData(8), [2, 4]);
  throws(
    () => dinov2DinoLoss(b, null, b, { teacherTemp: 0.07 }),
    /softmax centering needs a center/,
  );
  throws(() => koleoLoss(a, { chunks: 2 }), /koleo_loss: need \[N, E\]/);
  disposeAll(a, b);
});
