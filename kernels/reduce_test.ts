import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { max, mean, sum } from "./mod.ts";
import { fmtShape } from "../core/tensor.ts";

Deno.test("sum/mean/max over axes match a host loop", async () => {
  await initDevice();
  const d = randomData(2 * 3 * 70, 11);
  const t = tensor(d, [2, 3, 70]);
  const s = sum(t, [0, 2]);
  const ref = [0, 0, 0];
  d.forEach((v, i) => ref[Math.floor(i / 70) % 3] += v);
  assertAllClose(await s.data(), ref, 1e-5, 1e-6, "sum");
  const m = mean(t, 1, true);
  assert.deepEqual(m.shape, [2, 1, 70]);
  const mx = max(t, -1);
  assert.deepEqual(mx.shape, [2, 3]);
  const mref = [0, 1, 2, 3, 4, 5].map((r) => Math.max(...d.slice(r * 70, r * 70 + 70)));
  assert.deepEqual([...await mx.data()], mref);
  const all = sum(tensor(randomData(100000, 2)));
  assert.deepEqual(all.shape, []);
  assert.throws(() => sum(t, 3), /sum: axis out of range/);
});

Deno.test("reduction gradients match finite differences", async () => {
  await initDevice();
  const inp = [{ data: randomData(24, 5), shape: [2, 3, 4] }];
  await gradcheck((a) => sum(a, 1), inp);
  await gradcheck((a) => mean(a, [0, 2]), inp);
  await gradcheck((a) => max(a, 2), inp);
});

Deno.test("sum and max match the host in every entry and width (serial, workgroup; 1 or 4)", async () => {
  await initDevice();
  // [shape, axes]: vec4 serial, scalar serial, vec4 workgroup, inner-dim serial, 3-D mixed.
  const cases: [number[], number[]][] = [
    [[37, 132], [0]],
    [[37, 130], [0]],
    [[3, 8], [0]],
    [[200, 9], [1]],
    [[6, 5, 64], [0, 1]],
  ];
  for (const [shape, axes] of cases) {
    const n = shape.reduce((a, b) => a * b);
    const data = randomData(n, 3);
    const x = tensor(data, shape);
    const outShape = shape.map((d, i) => axes.includes(i) ? 1 : d);
    const nout = outShape.reduce((a, b) => a * b);
    const wantSum = new Float64Array(nout), wantMax = new Float64Array(nout).fill(-Infinity);
    for (let e = 0; e < n; e++) {
      let rem = e, o = 0, mul = 1;
      for (let d = shape.length - 1; d >= 0; d--) {
        const c = rem % shape[d];
        rem = Math.floor(rem / shape[d]);
        if (!axes.includes(d)) {
          o += c * mul;
          mul *= shape[d];
        }
      }
      wantSum[o] += data[e];
      wantMax[o] = Math.max(wantMax[o], data[e]);
    }
    const s = sum(x, axes), m = max(x, axes);
    assertAllClose(await s.data(), wantSum, 1e-5, 1e-5, `sum ${fmtShape(shape)} ${axes}`);
    assertAllClose(await m.data(), wantMax, 0, 0, `max ${fmtShape(shape)} ${axes}`);
    for (const t of [x, s, m]) t.dispose();
  }
});
