import assert from "node:assert/strict";
import { RunLoggers } from "./run_loggers.ts";
import { readMetrics } from "./metrics.ts";
import { decodeEventFile } from "./event_reader.ts";
import { encodePng } from "./png.ts";

Deno.test("RunLoggers: train.log, metrics.jsonl and an event file in out/", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sinter_run_" });
  try {
    const run = RunLoggers.open(`${dir}/`, { console: false });
    run.log.info("Resolved configuration:\n{}");
    run.logImage("example_views", encodePng(new Uint8Array(12), 2, 2, 3), 0);
    for (let step = 0; step < 3; step++) {
      run.logMetrics(step, { train_loss: 3 - step, lr: 0.1, data_wait: undefined }, 0);
    }
    run.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(names.length, 3, names.join());
    assert.deepEqual(names.slice(1), ["metrics.jsonl", "train.log"]);
    assert.match(names[0], /^events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+$/);
    assert.deepEqual(readMetrics(`${dir}/metrics.jsonl`).rows.map((r) => r.train_loss), [3, 2, 1]);
    const ev = decodeEventFile(Deno.readFileSync(`${dir}/${names[0]}`));
    assert.deepEqual(
      ev.slice(1).map((e) => [e.step, e.values.map((v) => v.tag).join()]),
      [[0, "example_views"], [0, "train_loss,lr"], [1, "train_loss,lr"], [2, "train_loss,lr"]],
    );
    assert.match(
      Deno.readTextFileSync(`${dir}/train.log`),
      /INFO {4}Resolved configuration:\n\{\}\n$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RunLoggers: jsonl and tensorboard can be turned off", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sinter_run_" });
  try {
    const run = RunLoggers.open(dir, { console: false, jsonl: false, tensorboard: false });
    run.logMetrics(0, { train_loss: 1 });
    run.logImage("x", new Uint8Array(), 0);
    run.close();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["train.log"]);
    assert.throws(() => RunLoggers.open(`${dir}/missing`, { console: false }), /could not write/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
