/**
 * `deno task parity`: one line per refdata case of the covered groups, then
 * `parity: N passed, N failed`. Exit code 1 on any failure.
 *
 * @module
 */
import { initDevice } from "../../core/mod.ts";
import { COVERED_GROUPS, coveredCases, runCase } from "./runner.ts";
import { listCases, refdataDir } from "./refdata.ts";

await initDevice();
const dir = refdataDir();
const verbose = Deno.args.includes("-v");
const filter = Deno.args.find((a) => !a.startsWith("-"));
let passed = 0, failed = 0;
for (const entry of coveredCases(dir)) {
  if (filter && !entry.name.includes(filter)) continue;
  const r = await runCase(entry);
  if (r.ok) passed++;
  else failed++;
  console.log(
    `${r.ok ? "ok  " : "FAIL"} ${entry.group.padEnd(6)} ${entry.name.padEnd(40)} worst ${
      r.worst.toExponential(2)
    }`,
  );
  if (!r.ok || verbose) { for (const d of r.details) console.log(`       ${d}`); }
}
const pending = listCases(dir).filter((c) => !COVERED_GROUPS.includes(c.group));
if (pending.length) {
  const groups = [...new Set(pending.map((c) => c.group))].join(", ");
  console.log(`(${pending.length} cases of groups ${groups} are not run yet: no ops for them)`);
}
console.log(`parity: ${passed} passed, ${failed} failed`);
if (failed) Deno.exit(1);
