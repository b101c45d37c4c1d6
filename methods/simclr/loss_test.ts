import { ntxent, ntxentRef } from "./loss.ts";
import { initDevice, tensor } from "../../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("ntxent matches the reference (both directions) at two temperatures", async () => {
  for (const [b, d, temp] of [[6, 10, 0.1], [70, 9, 0.5]] as const) {
    const a = randomData(b * d, 3), c = randomData(b * d, 4);
    const x0 = tensor(a, [b, d]), x1 = tensor(c, [b, d]);
    const r = ntxent(x0, x1, { temperature: temp });
    const got = [await r.loss.item(), await r.lossView0.item(), await r.lossView1.item()];
    assertAllClose(got, ntxentRef(a, c, b, d, temp), 1e-5, 1e-6, `B=${b}`);
    for (const t of [x0, x1, r.loss, r.lossView0, r.lossView1]) t.dispose();
  }
});

Deno.test("ntxent gradients", async () => {
  const x = { data: randomData(12, 5), shape: [3, 4] };
  const y = { data: randomData(12, 6), shape: [3, 4] };
  await gradcheck((a, b) => ntxent(a, b, { temperature: 0.5 }).loss, [x, y], { eps: 1e-3 });
});

Deno.test("ntxent rejects mismatched views", () => {
  const a = tensor(randomData(8), [2, 4]), b = tensor(randomData(12), [3, 4]);
  throws(() => ntxent(a, b), /ntxent: views must both be \[B, D\]/);
  a.dispose();
  b.dispose();
});
