/**
 * Runs refdata cases through their handlers and compares every output and gradient at the
 * case's own rtol/atol. A case whose op has no handler fails; it is never skipped.
 *
 * @module
 */
import { compareClose } from "../../core/testing.ts";
import {
  listCases,
  loadCase,
  modelFixturesDir,
  type RefCase,
  refdataDir,
  type RefIndexEntry,
} from "./refdata.ts";
import { handlers } from "./handlers/mod.ts";
import { clearTape, pool, tapeLength } from "../../core/mod.ts";

/**
 * Groups whose every case runs; the others join with their issues. `SINTER_PARITY_GROUPS`
 * (comma-separated) replaces the list, e.g. to work on a group before it is covered.
 */
export const COVERED_GROUPS: readonly string[] = Deno.env.get("SINTER_PARITY_GROUPS")?.split(",") ??
  ["ops", "optim", "models", "losses", "transforms"];

/** Outcome of one case. */
export interface CaseResult {
  /** Case id. */
  name: string;
  /** Passed? */
  ok: boolean;
  /** Worst ratio over all compared tensors (<= 1 passes). */
  worst: number;
  /** One line per compared tensor or the error. */
  details: string[];
}

/** Cases of the covered groups: the refdata folder, then the model fixture folder. */
export function coveredCases(dir = refdataDir(), models = modelFixturesDir()): RefIndexEntry[] {
  return [...listCases(dir), ...listCases(models)].filter((c) => COVERED_GROUPS.includes(c.group));
}

/** Compares a handler result with a case. */
export function compareCase(c: RefCase, got: Record<string, ArrayLike<number>>): CaseResult {
  const details: string[] = [];
  let ok = true, worst = 0;
  const expect: [string, { data: ArrayLike<number>; dtype: string }][] = [
    ...Object.entries(c.outputs),
    ...Object.entries(c.gradients).map(([k, v]) => [`grad:${k}`, v] as [string, typeof v]),
  ];
  for (const [k, ref] of expect) {
    const g = got[k];
    if (!g) {
      ok = false;
      details.push(`${k}: missing from the result`);
      continue;
    }
    const exact = ref.dtype !== "float32";
    const r = compareClose(g, ref.data, exact ? 0 : c.rtol, exact ? 0 : c.atol);
    if (exact && r.worstRatio > 0 && Number.isFinite(r.worstRatio)) r.ok = r.worstRatio === 0;
    worst = Math.max(worst, r.worstRatio);
    if (!r.ok) ok = false;
    details.push(`${k}: ${r.ok ? "ok" : "FAIL"} ${r.message}`);
  }
  return { name: c.name, ok, worst, details };
}

/** Loads and runs one case. */
export async function runCase(entry: RefIndexEntry): Promise<CaseResult> {
  const c = await loadCase(entry);
  const h = handlers[c.op];
  if (!h) {
    return {
      name: c.name,
      ok: false,
      worst: Infinity,
      details: [
        `no handler for op '${c.op}' (group ${c.group}): add one in tests/parity/handlers/`,
      ],
    };
  }
  try {
    const got = await h(c);
    return compareCase(c, got);
  } catch (e) {
    return { name: c.name, ok: false, worst: Infinity, details: [`error: ${(e as Error).stack}`] };
  } finally {
    if (tapeLength()) clearTape();
  }
}

/** Pool live bytes, for leak checks across cases. */
export function liveBytes(): number {
  return pool.stats().liveBytes;
}
