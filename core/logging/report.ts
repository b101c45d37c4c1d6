/**
 * `report.html`: a self-contained run report (inline CSS and SVG, images as `data:` URLs, no
 * scripts, and a Content-Security-Policy that forbids any network load). It shows run facts,
 * loss / learning-rate / schedule / data-loading curves from the metrics rows, the example
 * augmentation grid, and the resolved configuration. Written atomically.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";
import { escapeHtml, formatNumber, lineChart, type Series } from "./chart.ts";
import type { MetricsRow } from "./metrics.ts";
import { formatDuration } from "./progress.ts";

/** Facts about the run shown in the report's table (all optional). */
export interface RunFacts {
  /** Method name (e.g. "distillation"). */
  method?: string;
  /** Model name (e.g. "resnet18"). */
  model?: string;
  /** GPU adapter description (vendor, architecture, device, software or not). */
  adapter?: string;
  /** How the run ended. */
  status?: "completed" | "stopped" | "failed" | "running";
  /** Steps done. */
  steps?: number;
  /** Steps planned. */
  totalSteps?: number;
  /** Epochs done. */
  epochs?: number;
  /** Epochs planned. */
  totalEpochs?: number;
  /** Global batch size. */
  batchSize?: number;
  /** Training wall time, seconds. */
  durationSec?: number;
  /** Throughput, images per second. */
  imagesPerSec?: number;
  /** Images in the dataset. */
  datasetImages?: number;
  /** Images that could not be read and were skipped. */
  skippedImages?: number;
  /** A few of the skipped files (shown as a list). */
  skippedFiles?: string[];
  /** Output directory. */
  outDir?: string;
  /** Start time. */
  startedAt?: Date | string;
  /** End time. */
  finishedAt?: Date | string;
  /** Any further facts, shown after the known ones in insertion order. */
  extra?: Record<string, string | number | boolean | null>;
}

/** What {@link writeReport} renders. */
export interface ReportData {
  /** Page title; default "Sinter run report". */
  title?: string;
  /** Metrics rows (e.g. `readMetrics(out/metrics.jsonl).rows`). */
  metrics?: MetricsRow[];
  /** Run facts. */
  facts?: RunFacts;
  /** The resolved configuration (shown as JSON). */
  config?: unknown;
  /** PNG bytes of the example augmentation grid. */
  examplePng?: Uint8Array;
  /** Warnings or notes to show near the top. */
  notes?: string[];
  /** Generation time shown in the footer; default now. */
  generatedAt?: Date;
}

/** A chart group: a title and the metric keys it plots. */
export interface ChartGroup {
  /** Chart title. */
  title: string;
  /** Metric keys, one line each. */
  keys: string[];
}

/**
 * Groups metric keys into charts: loss (`train_loss`, `train_loss/*`, other `*loss*` keys),
 * learning rate (`lr`, `lr/*`, `lr-*`), one chart per `schedule/*` key, kNN top-1
 * (`knn/top1*`, the knn_monitor callback), `data_wait`,
 * `profiling/*`, then one chart per remaining key.
 */
export function chartGroups(keys: string[]): ChartGroup[] {
  const used = new Set<string>();
  const take = (pred: (k: string) => boolean) => {
    const ks = keys.filter((k) => !used.has(k) && pred(k));
    ks.forEach((k) => used.add(k));
    return ks;
  };
  const groups: ChartGroup[] = [];
  const add = (title: string, ks: string[]) => ks.length && groups.push({ title, keys: ks });
  add("Loss", take((k) => k === "train_loss" || k.startsWith("train_loss/")));
  add("Other losses", take((k) => /loss/i.test(k)));
  add("Learning rate", take((k) => k === "lr" || /^lr[-/_]/.test(k)));
  for (const k of take((k) => k.startsWith("schedule/"))) add(`Schedule: ${k.slice(9)}`, [k]);
  add("kNN top-1 (validation)", take((k) => k.startsWith("knn/top1")));
  add("Data wait (share of step time)", take((k) => k === "data_wait"));
  add("Profiling (s)", take((k) => k.startsWith("profiling/")));
  for (const k of take(() => true)) add(k, [k]);
  return groups;
}

function seriesFor(rows: MetricsRow[], key: string): Series {
  const points: [number, number | null][] = [];
  for (const r of rows) if (key in r) points.push([r.step, (r[key] as number | null) ?? null]);
  return { name: key, points };
}

function metricKeys(rows: MetricsRow[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) if (k !== "step" && k !== "epoch") keys.add(k);
  }
  return [...keys];
}

function fmtDate(d: Date | string | undefined): string | undefined {
  if (d === undefined) return undefined;
  return typeof d === "string" ? d : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** The facts table rows `[label, value]`, in display order. */
export function factRows(facts: RunFacts, rows: MetricsRow[] = []): [string, string][] {
  const out: [string, string][] = [];
  const put = (label: string, v: string | number | undefined | null) => {
    if (v !== undefined && v !== null && v !== "") out.push([label, String(v)]);
  };
  const of = (a?: number, b?: number) =>
    a === undefined ? undefined : b === undefined ? `${a}` : `${a} / ${b}`;
  put("Status", facts.status);
  put("Method", facts.method);
  put("Model", facts.model);
  put("Adapter", facts.adapter);
  put("Steps", of(facts.steps, facts.totalSteps));
  put("Epochs", of(facts.epochs, facts.totalEpochs));
  put("Batch size", facts.batchSize);
  put(
    "Training time",
    facts.durationSec === undefined ? undefined : formatDuration(facts.durationSec),
  );
  put("Images/s", facts.imagesPerSec === undefined ? undefined : facts.imagesPerSec.toFixed(1));
  put("Dataset images", facts.datasetImages);
  put("Skipped images", facts.skippedImages);
  const losses = rows.filter((r) => "train_loss" in r);
  const lastLoss = losses.at(-1)?.train_loss;
  if (lastLoss !== undefined) {
    put("Final train_loss", lastLoss === null ? "non-finite" : formatNumber(lastLoss));
  }
  const knn = rows.filter((r) => Object.keys(r).some((k) => k.startsWith("knn/top1"))).at(-1);
  if (knn) {
    const cells = Object.keys(knn).filter((k) => k.startsWith("knn/top1_k")).map((k) =>
      `k=${k.slice(10)} ${formatNumber(knn[k] as number)}%`
    );
    put(`Last kNN top-1 (step ${knn.step})`, cells.join(", "));
  }
  put("Output directory", facts.outDir);
  put("Started", fmtDate(facts.startedAt));
  put("Finished", fmtDate(facts.finishedAt));
  for (const [k, v] of Object.entries(facts.extra ?? {})) put(k, v === null ? "null" : String(v));
  return out;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1360px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd}
table.facts{border-collapse:collapse}table.facts th{text-align:left;font-weight:600;padding:2px 16px 2px 0;color:#555}
table.facts td{padding:2px 0}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
svg .plot{fill:#fff;stroke:#bbb}svg .grid{stroke:#eee}svg .tick,svg .axis{font-size:11px;fill:#666}
svg .line{fill:none;stroke-width:1.5;stroke-linejoin:round}
ul.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.swatch{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:5px}
.last{color:#666}.bad{color:#b00}.empty{color:#888}
.notes li{color:#8a5a00}
img.grid{max-width:100%;min-width:240px;image-rendering:pixelated;border:1px solid #ddd;background:#fff}
pre{background:#fff;border:1px solid #e3e3e3;padding:8px;overflow:auto;font-size:12px}
footer{color:#888;font-size:12px;margin:24px 0}
`;

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** JSON for the config block (bigints as strings, typed arrays summarized). */
function configJson(config: unknown): string {
  const text = JSON.stringify(
    config,
    (_k, v) =>
      typeof v === "bigint"
        ? v.toString()
        : ArrayBuffer.isView(v)
        ? `<${v.constructor.name} of ${v.byteLength} bytes>`
        : v,
    2,
  );
  return text ?? String(config);
}

/** Renders the report as one HTML string (see {@link writeReport}). */
export function renderReport(data: ReportData): string {
  const title = data.title ?? "Sinter run report";
  const rows = data.metrics ?? [];
  const facts = data.facts ?? {};
  const h: string[] = [];
  h.push(
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body><main>`,
    `<h1>${escapeHtml(title)}</h1>`,
  );
  const sub = [facts.method, facts.model].filter(Boolean).join(" · ");
  if (sub) h.push(`<p class="sub">${escapeHtml(sub)}</p>`);
  if (data.notes?.length) {
    h.push(`<ul class="notes">${data.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`);
  }
  h.push(`<h2>Run</h2><table class="facts" id="facts">`);
  for (const [k, v] of factRows(facts, rows)) {
    h.push(`<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`);
  }
  h.push(`</table>`);
  if (facts.skippedFiles?.length) {
    h.push(
      `<details><summary>Skipped files (${facts.skippedFiles.length} shown)</summary><ul>${
        facts.skippedFiles.map((f) => `<li>${escapeHtml(f)}</li>`).join("")
      }</ul></details>`,
    );
  }
  h.push(`<h2>Curves</h2>`);
  const groups = chartGroups(metricKeys(rows));
  if (!groups.length) h.push(`<p class="empty">No metrics were logged.</p>`);
  else {
    h.push(`<div class="charts">`);
    for (const g of groups) {
      h.push(lineChart(g.keys.map((k) => seriesFor(rows, k)), { title: g.title }));
    }
    h.push(`</div>`);
  }
  if (data.examplePng) {
    h.push(
      `<h2>Example augmentations</h2>`,
      `<p>Rows: images; columns: views (step 0).</p>`,
      `<img class="grid" id="example-views" alt="example augmented views" src="data:image/png;base64,${
        base64(data.examplePng)
      }">`,
    );
  }
  if (data.config !== undefined) {
    h.push(
      `<h2>Configuration</h2><pre id="config">${escapeHtml(configJson(data.config))}</pre>`,
    );
  }
  h.push(
    `<footer>Generated ${escapeHtml(fmtDate(data.generatedAt ?? new Date())!)} by Sinter.</footer>`,
    `</main></body></html>\n`,
  );
  return h.join("\n");
}

/** Renders `data` and writes it to `path` atomically (temp file + rename). */
export function writeReport(path: string, data: ReportData): void {
  writeFileAtomic(path, renderReport(data));
}
