// Bilinear resize against the plain-TS reference (forward and the exact float64
// vector-Jacobian product, the op being linear), plus a gradcheck.
import { initDevice } from "../core/device.ts";
import { backward } from "../core/autograd.ts";
import { tensor } from "../core/tensor.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { interpolateBilinear, interpolateBilinearRef } from "./interpolate.ts";
import "./mod.ts";

await initDevice();

const sizes: [number[], [number, number]][] = [
  [[2, 3, 3, 3], [4, 4]],
  [[2, 3, 6, 5], [4, 3]],
  [[1, 2, 5, 7], [13, 3]],
  [[1, 1, 8, 8], [2, 17]],
  [[1, 2, 4, 4], [4, 4]],
];

for (const [shape, size] of sizes) {
  Deno.test(`interpolateBilinear ${shape.slice(2).join("x")} -> ${size.join("x")}`, async () => {
    const n = shape.reduce((a, b) => a * b);
    const xd = randomData(n, 51);
    const x = tensor(xd, shape).requireGrad();
    const y = interpolateBilinear(x, size);
    assertAllClose(await y.data(), interpolateBilinearRef(xd, shape, size), 1e-5, 1e-6, "y");
    const gd = randomData(y.size, 52);
    backward(y, tensor(gd, y.shape));
    const base = interpolateBilinearRef(new Float64Array(n), shape, size);
    const gx = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const e = new Float64Array(n);
      e[i] = 1;
      const r = interpolateBilinearRef(e, shape, size);
      for (let k = 0; k < r.length; k++) gx[i] += (r[k] - base[k]) * gd[k];
    }
    assertAllClose(await x.grad!.data(), gx, 1e-5, 1e-6, "grad x");
    x.dispose();
    y.dispose();
  });
}

Deno.test("interpolateBilinear gradcheck", async () => {
  await gradcheck((x) => interpolateBilinear(x, [5, 3]), [{
    data: randomData(24, 53),
    shape: [1, 2, 3, 4],
  }]);
});
