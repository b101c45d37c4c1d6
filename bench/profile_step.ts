/**
 * GPU time per kernel of a SimCLR training step of a bench model case, from timestamp queries
 * (`startProfile` / `stopProfile` in core/engine.ts): where a step's time goes.
 *
 * `deno run -A bench/profile_step.ts <case id> [--batch=N] [--steps=2] [--top=25]`
 * (case ids: bench/models_bench.ts `MODEL_CASES`)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initDevice } from "../core/device.ts";
import { startProfile, stopProfile, sync } from "../core/engine.ts";
import { createModel } from "../models/mod.ts";
import { methodStepper, MODEL_CASES, simclrRun } from "./models_bench.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    batch: { type: "string" },
    steps: { type: "string", default: "2" },
    top: { type: "string", default: "25" },
  },
});
const c = MODEL_CASES.find((m) => m.id === positionals[0]);
if (!c) throw new Error(`case id: one of ${MODEL_CASES.map((m) => m.id).join(", ")}`);
await initDevice();
const batch = Number(values.batch ?? c.batch);
const model = createModel(c.model, { ...c.options, seed: 1 });
const sim = await simclrRun(model, batch);
const shape = [batch, c.channels, c.size, c.size];
const s = methodStepper(sim.run, () => [shape, shape])(batch);
const warm = s.step(); // compiles pipelines and creates the optimizer state
await warm.data();
warm.dispose();
await sync();
startProfile();
const t0 = performance.now();
const steps = Number(values.steps);
for (let i = 0; i < steps; i++) {
  const l = s.step();
  await l.data();
  l.dispose();
}
const wall = (performance.now() - t0) / steps;
const { rows, untimed } = await stopProfile();
const total = rows.reduce((a, r) => a + r.ms, 0) / steps;
console.log(
  `${c.id} batch ${batch}: ${wall.toFixed(0)} ms/step wall (profiled), GPU kernels ` +
    `${total.toFixed(0)} ms/step${untimed ? `, ${untimed} dispatches untimed` : ""}`,
);
console.log("kernel".padEnd(40) + "calls/step  ms/step   share");
for (const r of rows.slice(0, Number(values.top))) {
  console.log(
    r.name.padEnd(40) + String(r.calls / steps).padStart(10) +
      (r.ms / steps).toFixed(1).padStart(9) +
      `${(100 * r.ms / steps / total).toFixed(1)}%`.padStart(8),
  );
}
s.dispose();
sim.dispose();
