/**
 * Report tests. The browser test loads the report in headless Chromium (Debian package
 * `chromium`) and needs `--allow-run=chromium`; without Chromium it fails unless
 * SINTER_NO_BROWSER=1, which checks the HTML statically instead.
 */
import assert from "node:assert/strict";
import { chartGroups, factRows, renderReport, type ReportData, writeReport } from "./report.ts";
import { lineChart, niceTicks } from "./chart.ts";
import type { MetricsRow } from "./metrics.ts";
import { exampleViewsPng } from "./image_grid.ts";

const tmp = () => Deno.makeTempDirSync({ prefix: "sinter_report_" });

/** 200 steps of a plausible run, with one non-finite loss at step 57. */
function sampleData(): ReportData {
  const rows: MetricsRow[] = [];
  for (let step = 0; step < 200; step++) {
    const lr = step < 20
      ? 1e-3 * (step + 1) / 20
      : 1e-3 * 0.5 * (1 + Math.cos(Math.PI * (step - 20) / 180));
    const loss = 6 * Math.exp(-step / 60) + 0.3 + 0.1 * Math.sin(step);
    rows.push({
      step,
      epoch: Math.floor(step / 50),
      train_loss: step === 57 ? null : loss,
      "train_loss/dino": loss * 0.8,
      "train_loss/koleo": -0.1 * Math.exp(-step / 100),
      lr,
      "schedule/momentum": 0.996 + 0.004 * (1 - Math.cos(Math.PI * step / 199)) / 2,
      "schedule/teacher_temp": Math.min(0.07, 0.04 + 0.0015 * step),
      data_wait: 0.05 + 0.02 * Math.cos(step / 7),
      "profiling/data_time": 0.01,
      "profiling/batch_time": 0.2,
    });
  }
  const view = (h: number) => ({
    data: Float32Array.from({ length: 2 * 3 * h * h }, (_, i) => Math.sin(i / 5)),
    n: 2,
    c: 3,
    h,
    w: h,
  });
  return {
    metrics: rows,
    facts: {
      status: "completed",
      method: "dino",
      model: "resnet18",
      adapter: "llvmpipe (LLVM 19, 256 bits) [software] <vulkan>",
      steps: 200,
      totalSteps: 200,
      epochs: 4,
      totalEpochs: 4,
      batchSize: 16,
      durationSec: 754,
      imagesPerSec: 4.24,
      datasetImages: 800,
      skippedImages: 2,
      skippedFiles: ["bad/one.jpg", "bad/two & three.png"],
      outDir: "/runs/out",
      startedAt: new Date(Date.UTC(2026, 7, 14, 10, 0, 0)),
      finishedAt: new Date(Date.UTC(2026, 7, 14, 10, 12, 34)),
      extra: { seed: 0 },
    },
    config: { method: "dino", method_args: { teacher_temp: 0.04 }, note: "</pre><b>x</b>" },
    examplePng: exampleViewsPng([view(16), view(8)]),
    notes: ["2 images could not be read and were skipped"],
    generatedAt: new Date(Date.UTC(2026, 7, 14, 10, 13, 0)),
  };
}

Deno.test("chartGroups: loss, lr, one chart per schedule, data_wait, profiling, the rest", () => {
  assert.deepEqual(
    chartGroups([
      "lr",
      "train_loss/koleo",
      "schedule/wd",
      "data_wait",
      "train_loss",
      "profiling/data_time",
      "schedule/momentum",
      "grad_norm",
      "val_loss",
    ]),
    [
      { title: "Loss", keys: ["train_loss/koleo", "train_loss"] },
      { title: "Other losses", keys: ["val_loss"] },
      { title: "Learning rate", keys: ["lr"] },
      { title: "Schedule: wd", keys: ["schedule/wd"] },
      { title: "Schedule: momentum", keys: ["schedule/momentum"] },
      { title: "Data wait (share of step time)", keys: ["data_wait"] },
      { title: "Profiling (s)", keys: ["profiling/data_time"] },
      { title: "grad_norm", keys: ["grad_norm"] },
    ],
  );
});

Deno.test("lineChart: path per series, breaks at non-finite values, envelope for long series", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
  const svg = lineChart([
    { name: "a", points: [[0, 1], [1, 2], [2, null], [3, 3], [4, 4]] },
    { name: "b<c", points: [[0, NaN]] },
  ], { title: "T" });
  const d = svg.match(/data-series="a" data-points="4" stroke="[^"]+" d="([^"]+)"/)![1];
  assert.equal(d.match(/M/g)!.length, 2, "two runs");
  assert.equal(d.match(/L/g)!.length, 2);
  assert.match(svg, /data-series="b&lt;c" data-points="0"/);
  assert.match(svg, /\(1 non-finite\)/);
  const long = Array.from({ length: 20000 }, (_, i) => [i, Math.sin(i)] as [number, number]);
  const dl = lineChart([{ name: "s", points: long }], { title: "L", width: 300 })
    .match(/ d="([^"]+)"/)![1];
  const vertices = dl.split(/[ML]/).length - 1;
  assert.ok(vertices < 4 * 300 && vertices > 300, `${vertices} vertices`);
  assert.match(lineChart([{ name: "e", points: [[0, null]] }], { title: "E" }), /no finite values/);
  // a long run logged every step (no argument-spreading limits)
  const huge = Array.from({ length: 300_000 }, (_, i) => [i, 1 / (i + 1)] as [number, number]);
  assert.match(lineChart([{ name: "h", points: huge }], { title: "H" }), /data-points="300000"/);
});

Deno.test("renderReport: facts, escaping, self-contained (CSP, no scripts, no URLs)", () => {
  const data = sampleData();
  const html = renderReport(data);
  const facts = Object.fromEntries(factRows(data.facts!, data.metrics));
  assert.equal(facts["Steps"], "200 / 200");
  assert.equal(facts["Training time"], "12m34s");
  assert.equal(facts["Images/s"], "4.2");
  assert.equal(facts["Skipped images"], "2");
  assert.equal(facts["Final train_loss"], "0.429");
  assert.equal(facts["Started"], "2026-08-14 10:00:00 UTC");
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:/);
  assert.ok(!/<script|<link|@import|url\(/i.test(html), "no scripts or external assets");
  assert.ok(!/(src|href)="(?!data:)/.test(html), "only data: URLs");
  assert.ok(!html.includes("</pre><b>x</b>"), "config text is escaped");
  assert.match(html, /bad\/two &amp; three\.png/);
  assert.match(
    html,
    /<img class="grid" id="example-views" alt="[^"]+" src="data:image\/png;base64,iVBORw0KGgo/,
  );
  assert.equal((html.match(/<path class="line"/g) ?? []).length, 9);
  assert.match(html, /<h2>Curves<\/h2>/);
  assert.match(renderReport({}), /No metrics were logged/);
});

Deno.test("writeReport: atomic replace, no temp file left behind", () => {
  const dir = tmp();
  try {
    const path = `${dir}/report.html`;
    Deno.writeTextFileSync(path, "old");
    writeReport(path, sampleData());
    assert.match(Deno.readTextFileSync(path), /^<!DOCTYPE html>/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["report.html"]);
    assert.throws(
      () => writeReport(`${dir}/missing/report.html`, {}),
      /could not write .*atomically/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["report.html"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Checks the report's DOM (as Chromium serialized it, or the raw HTML). */
function checkReportDom(dom: string): void {
  const paths = [
    ...dom.matchAll(
      /<path class="line" data-series="([^"]+)" data-points="(\d+)"[^>]* d="([^"]*)"/g,
    ),
  ];
  const byName = Object.fromEntries(paths.map((m) => [m[1], { n: +m[2], d: m[3] }]));
  assert.equal(paths.length, 9, `line paths: ${Object.keys(byName)}`);
  for (
    const key of [
      "train_loss",
      "train_loss/dino",
      "train_loss/koleo",
      "lr",
      "schedule/momentum",
      "schedule/teacher_temp",
      "data_wait",
    ]
  ) {
    assert.ok(byName[key], `a line for ${key}`);
    const vertices = byName[key].d.split(/[ML]/).length - 1;
    assert.ok(vertices >= byName[key].n && byName[key].n >= 199, `${key}: ${vertices} vertices`);
    for (const m of byName[key].d.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)) {
      const [x, y] = [+m[1], +m[2]];
      assert.ok(
        x >= 56 && x <= 628 && y >= 10 && y <= 186,
        `${key}: point ${x},${y} inside the plot`,
      );
    }
  }
  assert.equal(byName["train_loss"].n, 199, "the NaN step is not drawn");
  assert.equal(byName["train_loss"].d.match(/M/g)!.length, 2, "the NaN step breaks the line");
  for (
    const t of [
      "Loss",
      "Learning rate",
      "Schedule: momentum",
      "Schedule: teacher_temp",
      "Data wait (share of step time)",
      "Profiling (s)",
    ]
  ) {
    assert.ok(dom.includes(`<figcaption>${t}</figcaption>`), `chart ${t}`);
  }
  const facts = Object.fromEntries(
    [...dom.matchAll(/<tr><th>([^<]+)<\/th><td>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1], m[2]]),
  );
  assert.deepEqual(
    {
      method: facts["Method"],
      adapter: facts["Adapter"],
      steps: facts["Steps"],
      time: facts["Training time"],
      ips: facts["Images/s"],
      skipped: facts["Skipped images"],
    },
    {
      method: "dino",
      adapter: "llvmpipe (LLVM 19, 256 bits) [software] &lt;vulkan&gt;",
      steps: "200 / 200",
      time: "12m34s",
      ips: "4.2",
      skipped: "2",
    },
  );
  assert.match(dom, /id="example-views"[^>]*src="data:image\/png;base64,/);
  assert.match(dom, /<pre id="config">[^<]*&lt;\/pre&gt;&lt;b&gt;x&lt;\/b&gt;/);
}

Deno.test("report.html in headless Chromium: plots, facts and the image are in the DOM", async () => {
  const dir = tmp();
  try {
    const path = `${dir}/report.html`;
    writeReport(path, sampleData());
    if (Deno.env.get("SINTER_NO_BROWSER") === "1") {
      console.log("SINTER_NO_BROWSER=1: checking report.html statically, not in a browser");
      checkReportDom(Deno.readTextFileSync(path));
      return;
    }
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("chromium", {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--no-first-run",
          `--user-data-dir=${dir}/profile`,
          "--enable-logging=stderr",
          "--log-level=0",
          "--dump-dom",
          `file://${path}`,
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(90_000),
      }).output();
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "chromium is not installed (apt-get install -y --no-install-recommends chromium)"
        : e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
        ? "this test needs --allow-run=chromium"
        : (e as Error).message;
      throw new Error(
        `cannot run headless Chromium to check report.html: ${why}. ` +
          `Set SINTER_NO_BROWSER=1 to check the HTML statically instead.`,
        { cause: e },
      );
    }
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `chromium exited with ${out.code}:\n${stderr.slice(-2000)}`);
    const dom = new TextDecoder().decode(out.stdout);
    assert.match(dom, /<html/);
    checkReportDom(dom);
    // the page's own Content-Security-Policy must not block its inline style or data: image
    // (Chromium logs a blocked load as a console message on stderr)
    assert.ok(!/Content Security Policy/.test(stderr), stderr.match(/.*Content Security.*/)?.[0]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
