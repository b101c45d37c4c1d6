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
