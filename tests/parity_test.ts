// One Deno test per refdata case of the covered groups (the same runner as `deno task parity`).
import { initDevice } from "../core/mod.ts";
import { coveredCases, runCase } from "./parity/runner.ts";

const cases = coveredCases();
if (cases.length === 0) throw new Error("no refdata cases found: set SINTER_REFDATA");
for (const entry of cases) {
  Deno.test(`parity ${entry.group}/${entry.name}`, async () => {
    await initDevice();
    const r = await runCase(entry);
    if (!r.ok) throw new Error(`${entry.name} failed:\n${r.details.join("\n")}`);
  });
}

Deno.test("parity runner leaves no GPU memory behind", async () => {
  await initDevice();
  const { liveBytes } = await import("./parity/runner.ts");
  const some = cases.filter((c) =>
    /matmul_2d|vit_block$|batch_norm2d_train|adamw_step_t5/.test(c.name)
  );
  await runCase(some[0]);
  const before = liveBytes();
  for (const c of some) await runCase(c);
  if (liveBytes() !== before) throw new Error(`leaked ${liveBytes() - before} bytes`);
});
