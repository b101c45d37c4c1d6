/**
 * The README's benchmark table, built from the reference result files in `bench/results/`
 * (`<adapter>.json` from `deno task bench`, `fmnist_<adapter>*.json` from
 * `deno task eval:fmnist`): one column per adapter. `deno task bench` refreshes it after a full
 * run; `deno run --allow-read --allow-write bench/readme_table.ts` does it by hand.
 *
 * @module
 */

/** The file-name form of an adapter description (`bench/results/<slug>.json`). */
export function adapterSlug(description: string): string {
  return description.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(/^-|-$/g, "");
}

const BEGIN = "<!-- bench-table:begin -->";
const END = "<!-- bench-table:end -->";

type Json = Record<string, unknown>;

function read(path: URL): Json | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return null;
  }
}

const num = (v: unknown, d = 1) => (typeof v === "number" ? v.toFixed(d) : "-");

/** Markdown table of every adapter's latest full results. */
export function benchTable(dir: URL): string {
  const runs: { name: string; bench: Json | null; fmnist: Json[] }[] = [];
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  for (const f of names) {
    if (!f.endsWith(".json") || f.startsWith("fmnist_") || /_(quick|partial)\.json$/.test(f)) {
      continue;
    }
    const slug = f.slice(0, -5);
    const fmnist = names.filter((n) =>
      n.startsWith(`fmnist_${slug}`) && !n.includes("_partial") && n.endsWith(".json")
    ).map((n) => read(new URL(n, dir))).filter((j): j is Json => j !== null);
    runs.push({ name: slug, bench: read(new URL(f, dir)), fmnist });
  }
  const cols = runs.map((r) => {
    const a = r.bench?.adapter as { description?: string } | undefined;
    return a?.description ?? r.name;
  });
  const rows: [string, ...string[]][] = [];
  const row = (label: string, f: (b: Json, fm: Json[]) => string) =>
    rows.push([label, ...runs.map((r) => (r.bench ? f(r.bench, r.fmnist) : "-"))]);
  row("date, commit", (b) => `${String(b.date).slice(0, 10)} ${String(b.git_commit).slice(0, 7)}`);
  row("sections run", (b) => (b.sections as string[]).join(", "));
  const mm = (b: Json, size: number) =>
    ((b.matmul as { rows?: Json[] })?.rows ?? []).find((r) => r.size === size);
  row("matmul 1024 GFLOP/s (OpenBLAS)", (b) => {
    const r = mm(b, 1024);
    return r ? `${num(r.sinter_gflops)} (${num(r.openblas_gflops)})` : "-";
  });
  const cases = (b: Json) => ((b.models as { cases?: Json[] })?.cases ?? []);
  for (const id of ["resnet18_cifar_32", "resnet18_64", "vit_tiny_patch4_32", "tinycnn16_28"]) {
    row(`${id}: train img/s (x PyTorch CPU)`, (b) => {
      const c = cases(b).find((x) => x.id === id);
      const t = c?.train_step as Json | undefined;
      if (!c || !t || "error" in t) return "-";
      const star = (t.batch as number) < (t.batch_requested as number) ? "*" : "";
      return `${num(t.images_per_s)}${star} (${num(c.ratio_vs_pytorch, 2)}x)`;
    });
  }
  const methods = (b: Json) => ((b.methods as { methods?: Json[] })?.methods ?? []);
  for (const m of ["simclr", "dino", "dinov2", "distillation"]) {
    row(`${m}: one step, img/s (small model)`, (b) => {
      const t = methods(b).find((x) => x.method === m)?.train_step as Json | undefined;
      return t && !("error" in t) ? num(t.images_per_s) : "-";
    });
  }
  const memory = (b: Json) => ((b.memory as { methods?: Json[] })?.methods ?? []);
  for (const m of ["simclr", "dino", "distillation", "distillationv2", "distillationv1"]) {
    row(`${m}: peak MiB, ResNet-18 32px b128`, (b) => {
      const c = memory(b).find((x) => x.method === m);
      return c && typeof c.peak_live_bytes === "number"
        ? num((c.peak_live_bytes as number) / 2 ** 20, 0)
        : "-";
    });
  }
  row("FMNIST recipe k=20 (k=200), per seed", (_, fm) =>
    fm.length
      ? fm.map((j) => {
        const p = j.pretrained as Json;
        return `s${j.seed}: ${num(p.k20, 2)} (${num(p.k200, 2)})`;
      }).join("; ")
      : "-");
  row(
    "FMNIST random init k=20",
    (_, fm) => fm.length ? fm.map((j) => num((j.random_init as Json).k20, 2)).join("; ") : "-",
  );
  row(
    "FMNIST 600 steps: train s, img/s",
    (_, fm) =>
      fm.length
        ? fm.map((j) => `${num(j.train_seconds, 0)} s, ${num(j.images_per_second, 0)}`).join("; ")
        : "-",
  );
  const head = `| | ${cols.join(" | ")} |\n|---|${cols.map(() => "---").join("|")}|`;
  return [head, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Rewrites the table between the markers of `readme`. */
export function updateReadme(readme: URL, dir: URL): void {
  const text = Deno.readTextFileSync(readme);
  const i = text.indexOf(BEGIN), j = text.indexOf(END);
  if (i < 0 || j < i) throw new Error(`${readme.pathname}: no ${BEGIN} ... ${END} markers`);
  const out = `${text.slice(0, i + BEGIN.length)}\n${benchTable(dir)}\n${text.slice(j)}`;
  const tmp = `${readme.pathname}.tmp`;
  Deno.writeTextFileSync(tmp, out);
  Deno.renameSync(tmp, readme);
}

if (import.meta.main) {
  updateReadme(new URL("../README.md", import.meta.url), new URL("./results/", import.meta.url));
  console.log("README.md benchmark table updated");
}
