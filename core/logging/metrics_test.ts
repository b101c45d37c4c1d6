import assert from "node:assert/strict";
import { MetricsLogger, parseMetrics, readMetrics } from "./metrics.ts";
import { AppendFile, type ByteSink, LogWriteError } from "./append_file.ts";

const tmp = () => Deno.makeTempDirSync({ prefix: "sinter_metrics_" });

Deno.test("MetricsLogger: one JSON object per row, key order, NaN/Inf as null", () => {
  const dir = tmp();
  try {
    const path = `${dir}/metrics.jsonl`;
    const m = new MetricsLogger(path);
    m.log(0, { train_loss: 5.5, "train_loss/koleo": -0.25, lr: 1e-4, skipped: undefined }, 0);
    m.log(1, { train_loss: NaN, lr: Infinity, "schedule/momentum": -Infinity, data_wait: null }, 0);
    m.log(2, { "profiling/data_time": 0.0123, data_wait: 0.04 });
    assert.throws(() => m.log(3, { step: 1 }), /reserved/);
    assert.throws(() => m.log(3, { x: "1" as unknown as number }), /must be a number/);
    assert.throws(() => m.log(-1, {}), /non-negative integer/);
    m.close();
    const lines = Deno.readTextFileSync(path).split("\n");
    assert.equal(lines.at(-1), "");
    assert.equal(
      lines[0],
      '{"step":0,"epoch":0,"train_loss":5.5,"train_loss/koleo":-0.25,"lr":0.0001}',
    );
    assert.equal(
      lines[1],
      '{"step":1,"epoch":0,"train_loss":null,"lr":null,"schedule/momentum":null,"data_wait":null}',
    );
    assert.equal(lines[2], '{"step":2,"profiling/data_time":0.0123,"data_wait":0.04}');
    const { rows, badLines } = readMetrics(path);
    assert.equal(badLines, 0);
    assert.deepEqual(rows.map((r) => r.step), [0, 1, 2]);
    assert.equal(rows[1].train_loss, null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("MetricsLogger: flushes every N rows, after the interval, and on close", () => {
  const dir = tmp();
  try {
    const path = `${dir}/metrics.jsonl`;
    let t = 0;
    const m = new MetricsLogger(path, { flushEveryRows: 3, flushIntervalMs: 1000, now: () => t });
    const count = () => Deno.readTextFileSync(path).split("\n").filter(Boolean).length;
    m.log(0, { a: 1 });
    m.log(1, { a: 1 });
    assert.equal(count(), 0);
    m.log(2, { a: 1 });
    assert.equal(count(), 3, "third row triggers a flush");
    m.log(3, { a: 1 });
    t = 1000;
    m.log(4, { a: 1 });
    assert.equal(count(), 5, "interval elapsed");
    m.log(5, { a: 1 });
    assert.equal(count(), 5);
    m.close();
    assert.equal(count(), 6, "close flushes");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("MetricsLogger: resume appends; a line cut by a crash is left alone and skipped", () => {
  const dir = tmp();
  try {
    const path = `${dir}/metrics.jsonl`;
    Deno.writeTextFileSync(path, '{"step":0,"train_loss":1}\n{"step":1,"train_l');
    const m = new MetricsLogger(path);
    m.log(2, { train_loss: 0.5 });
    m.close();
    const text = Deno.readTextFileSync(path);
    assert.equal(
      text,
      '{"step":0,"train_loss":1}\n{"step":1,"train_l\n{"step":2,"train_loss":0.5}\n',
    );
    const { rows, badLines } = parseMetrics(text);
    assert.deepEqual(rows.map((r) => r.step), [0, 2]);
    assert.equal(badLines, 1);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** An in-memory sink that runs out of space after `capacity` bytes (short write, then ENOSPC). */
function fullDiskSink(initial: string, capacity: number) {
  let data = new TextEncoder().encode(initial);
  const sink: ByteSink & { text(): string } = {
    writeSync(p) {
      const room = capacity - data.length;
      if (room <= 0) {
        const e = new Error("No space left on device (os error 28)") as Error & { code: string };
        e.code = "ENOSPC";
        throw e;
      }
      const n = Math.min(room, p.length);
      data = new Uint8Array([...data, ...p.subarray(0, n)]);
      return n;
    },
    truncateSync(len) {
      data = data.slice(0, len);
    },
    size: () => data.length,
    lastByte: () => data.at(-1),
    close() {},
    text: () => new TextDecoder().decode(data),
  };
  return sink;
}

Deno.test("MetricsLogger: a full disk gives a clear error and never corrupts earlier lines", () => {
  const before = '{"step":0,"train_loss":1}\n';
  const sink = fullDiskSink(before, before.length + 40);
  const m = new MetricsLogger("out/metrics.jsonl", { sink, flushEveryRows: 1 });
  m.log(1, { train_loss: 0.5 }); // 27 bytes: fits
  const good = sink.text();
  let err: unknown;
  try {
    m.log(2, { train_loss: 0.25, lr: 0.001 }); // partial write, then ENOSPC
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof LogWriteError, String(err));
  assert.equal(err.diskFull, true);
  assert.match(err.message, /metrics\.jsonl: the disk holding out\/metrics\.jsonl is full/);
  assert.match(err.message, /Free some space there or pass another out= directory/);
  assert.match(err.message, /lines already in the file are intact/);
  assert.equal(sink.text(), good, "the partial row was cut off again");
  assert.deepEqual(parseMetrics(sink.text()), {
    rows: [{ step: 0, train_loss: 1 }, { step: 1, train_loss: 0.5 }],
    badLines: 0,
  });
});

Deno.test("AppendFile: the queued bytes are written once space is back", () => {
  const sink = fullDiskSink("", 10);
  const f = new AppendFile("x.log", { sink, what: "x.log" });
  f.append(new TextEncoder().encode("0123456789abc\n"));
  assert.throws(() => f.flush(), LogWriteError);
  assert.equal(sink.text(), "");
  assert.equal(f.pendingBytes, 14);
  // make room: a sink with more capacity over the same data is simulated by replacing writeSync
  sink.writeSync = (p) => {
    sink.truncateSync(0);
    return p.length;
  };
  f.flush();
  assert.equal(f.pendingBytes, 0);
  assert.equal(f.committedBytes, 14);
});

Deno.test("MetricsLogger: a real ENOSPC (/dev/full) is reported as a full disk", () => {
  try {
    Deno.statSync("/dev/full");
  } catch (e) {
    // Deno opens device files only with --allow-all; the simulated full disk above covers the
    // logic, this one checks that the OS error is recognised.
    console.log(`skipping the /dev/full check: ${(e as Error).message.split("\n")[0]}`);
    return;
  }
  const m = new MetricsLogger("/dev/full", { flushEveryRows: 1 });
  assert.throws(
    () => m.log(0, { train_loss: 1 }),
    (e: unknown) => e instanceof LogWriteError && e.diskFull && /is full/.test(e.message),
  );
  assert.throws(() => m.close(), LogWriteError);
});

Deno.test("MetricsLogger: an unwritable directory gives an error naming the path", () => {
  assert.throws(
    () => new MetricsLogger("/nonexistent-sinter-dir/metrics.jsonl"),
    (e: unknown) =>
      e instanceof LogWriteError && !e.diskFull &&
      /could not write \/nonexistent-sinter-dir\/metrics\.jsonl/.test(e.message),
  );
});
