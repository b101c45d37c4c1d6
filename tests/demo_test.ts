import assert from "node:assert/strict";
import { runDemo } from "../examples/train_classifier.ts";

Deno.test("demo: a small CNN learns the synthetic patterns end to end", async () => {
  const lines: string[] = [];
  const r = await runDemo(40, 32, (s) => lines.push(s));
  assert.ok(r.lastLoss < r.firstLoss * 0.5, `loss ${r.firstLoss} -> ${r.lastLoss}`);
  assert.ok(r.acc1 > 0.8 && r.acc1 > r.acc0 + 0.3, `accuracy ${r.acc0} -> ${r.acc1}`);
  assert.ok(lines.some((l) => l.startsWith("held-out accuracy after 40 steps")));
});
