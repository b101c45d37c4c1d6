import assert from "node:assert/strict";
import { initDevice, Rng } from "../mod.ts";
import { knnAccuracy, labelsFromFolders } from "./knn.ts";

Deno.test("kNN top-1 finds clustered classes and is at chance for noise", async () => {
  await initDevice();
  const rng = new Rng(4);
  const dim = 8, classes = 4;
  const make = (n: number, spread: number) => {
    const data = new Float32Array(n * dim), labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % classes;
      for (let d = 0; d < dim; d++) {
        data[i * dim + d] = (d === labels[i] ? 1 : 0) + spread * rng.normal();
      }
    }
    return { data, dim, labels };
  };
  const acc = await knnAccuracy(make(200, 0.1), make(100, 0.1), { k: [5, 20] });
  assert.equal(acc[5], 1);
  assert.equal(acc[20], 1);
  const noise = await knnAccuracy(make(400, 50), make(400, 50), { k: [20] });
  assert.ok(noise[20] > 0.1 && noise[20] < 0.45, `noise accuracy ${noise[20]}`);
  assert.deepEqual([...labelsFromFolders(["b/1.png", "a/2.png", "b/3.png"]).labels], [1, 0, 1]);
});
