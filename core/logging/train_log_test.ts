import assert from "node:assert/strict";
import { type ConsoleOut, TrainLog } from "./train_log.ts";
import {
  etaSeconds,
  formatDuration,
  formatLoss,
  type ProgressState,
  RateEstimator,
  renderBar,
  renderPlain,
} from "./progress.ts";

const tmp = () => Deno.makeTempDirSync({ prefix: "sinter_trainlog_" });

function fakeConsole(isTerminal: boolean, columns = 120): ConsoleOut & { out: string } {
  const c = {
    out: "",
    isTerminal,
    columns: () => columns,
    write: (t: string) => void (c.out += t),
  };
  return c;
}

Deno.test("progress: durations, losses, rate window, ETA", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59.4), "59s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
  assert.equal(formatDuration(2 * 86400 + 3 * 3600), "2d03h");
  assert.equal(formatDuration(undefined), "?");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatLoss(4.123456), "4.123");
  assert.equal(formatLoss(NaN), "nan");
  assert.equal(formatLoss(null), "nan");
  assert.equal(formatLoss(-Infinity), "-inf");
  assert.equal(formatLoss(1.5e-5), "1.500e-5");
  assert.equal(formatLoss(undefined), "-");
  const r = new RateEstimator(10_000);
  assert.equal(r.rate(), undefined);
  r.add(0, 0);
  r.add(1000, 2);
  assert.equal(r.rate(), 2);
  // a slow start falls out of the window: the rate follows the recent past
  r.add(20_000, 102);
  r.add(25_000, 152);
  r.add(31_000, 212);
  assert.equal(r.rate(), 10);
  const s: ProgressState = { step: 100, totalSteps: 400, rate: 10, elapsedSec: 5 };
  assert.equal(etaSeconds(s), 30);
  assert.equal(etaSeconds({ ...s, rate: undefined }), undefined);
});

Deno.test("progress: bar and plain line show step, ETA, loss, data_wait", () => {
  const s: ProgressState = {
    step: 450,
    totalSteps: 1000,
    epoch: 1,
    totalEpochs: 10,
    loss: 4.12345,
    dataWait: 0.031,
    rate: 5.4,
    elapsedSec: 83,
  };
  const bar = renderBar(s, 120);
  assert.ok(bar.length < 120, bar);
  assert.match(bar, /^epoch 2\/10 {2}45%\|█+[▏▎▍▌▋▊▉]? +\| 450\/1000 \[1m23s<1m42s, 5\.40 it\/s/);
  assert.match(bar, /loss=4\.123, data_wait=3\.1%\]$/);
  assert.equal(
    renderPlain(s),
    "step 450/1000 (45%) epoch 2/10 | 5.40 it/s, loss=4.123, data_wait=3.1% | elapsed 1m23s, ETA 1m42s",
  );
  // the bar shrinks to fit narrow terminals and is cut rather than wrap
  assert.ok(renderBar(s, 60).length <= 59);
  assert.match(renderBar({ ...s, step: 1000 }, 200), /100%\|█{40}\|/);
});

Deno.test("TrainLog: timestamped file lines, console echo, plain progress when not a TTY", () => {
  const dir = tmp();
  try {
    const path = `${dir}/train.log`;
    const con = fakeConsole(false);
    let t = 0;
    const log = new TrainLog(path, {
      console: con,
      now: () => t,
      date: () => new Date(Date.UTC(2026, 7, 14, 12, 0, 0, t % 1000)),
      plainEverySteps: 10,
      plainIntervalMs: 60_000,
    });
    log.info("Args: {}");
    log.warn("careful");
    log.debug("file only");
    log.startProgress({ totalSteps: 25, totalEpochs: 5 });
    for (let step = 1; step <= 25; step++) {
      t += 500;
      log.progress({ step, epoch: Math.floor((step - 1) / 5), loss: 10 / step, dataWait: 0.5 });
    }
    log.info("done");
    log.close();
    const lines = Deno.readTextFileSync(path).trimEnd().split("\n");
    assert.equal(lines[0], "2026-08-14T12:00:00.000Z INFO    Args: {}");
    assert.equal(lines[1], "2026-08-14T12:00:00.000Z WARNING careful");
    assert.equal(lines[2], "2026-08-14T12:00:00.000Z DEBUG   file only");
    const prog = lines.filter((l) => l.includes(" step "));
    assert.equal(prog.length, 3, lines.join("\n")); // steps 10, 20 and the last one
    assert.match(prog[0], /INFO {4}step 10\/25 \(40%\) epoch 2\/5 \| 2\.00 it\/s, loss=1\.000/);
    assert.match(prog[2], /step 25\/25 \(100%\) epoch 5\/5 .* ETA 0s$/);
    assert.match(lines.at(-1)!, /INFO {4}done$/);
    // console: messages without timestamps, no debug, the same plain lines, no control codes
    assert.ok(con.out.startsWith("Args: {}\nWARNING: careful\nstep 10/25"), con.out);
    assert.ok(!con.out.includes("file only"));
    assert.ok(!con.out.includes("\r") && !con.out.includes("\x1b"));
    assert.equal(con.out.split("\n").filter((l) => l.startsWith("step ")).length, 3);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("TrainLog: a live bar on a terminal, redrawn under log messages", () => {
  const dir = tmp();
  try {
    const con = fakeConsole(true, 100);
    let t = 0;
    const log = new TrainLog(`${dir}/train.log`, { console: con, now: () => t, redrawMs: 100 });
    log.startProgress({ totalSteps: 100, startStep: 50 }); // resumed at step 50
    t = 50;
    log.progress({ step: 51, loss: 3, dataWait: 0.2 });
    t = 80;
    log.progress({ step: 52 }); // within redrawMs: not drawn
    t = 1000;
    log.progress({ step: 60 });
    log.info("checkpoint saved");
    t = 2000;
    log.progress({ step: 100, loss: 1.5 });
    log.close();
    const frames = con.out.split("\r\x1b[2K").filter(Boolean);
    assert.match(
      frames[0],
      /^ 51%\|.*\| 51\/100 \[0s<2s, 20\.00 it\/s, loss=3\.000, data_wait=20\.0%\]$/,
    );
    assert.ok(!con.out.includes("52/100"), "throttled redraw");
    // the message clears the bar line, prints, and redraws the bar below it
    assert.ok(con.out.includes("\r\x1b[2Kcheckpoint saved\n 60%|"), JSON.stringify(con.out));
    assert.match(con.out, /100%\|█+\| 100\/100 \[2s<0s, .*loss=1\.500.*\]\n$/);
    // the file never gets the bar, only plain lines
    const file = Deno.readTextFileSync(`${dir}/train.log`);
    assert.ok(!file.includes("█") && !file.includes("\x1b"));
    assert.match(file, /INFO {4}step 100\/100 \(100%\)/);
    assert.match(file, /INFO {4}checkpoint saved/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("TrainLog: progress before start is an error; console can be off", () => {
  const dir = tmp();
  try {
    const log = new TrainLog(`${dir}/train.log`, { console: false });
    assert.throws(() => log.progress({ step: 1 }), /startProgress first/);
    log.info("quiet");
    log.close();
    assert.match(Deno.readTextFileSync(`${dir}/train.log`), /INFO {4}quiet\n$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
