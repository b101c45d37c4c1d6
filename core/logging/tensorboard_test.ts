import assert from "node:assert/strict";
import { crc32c, maskCrc, maskedCrc32c } from "./crc32c.ts";
import { fieldInt, ProtoWriter, readFields } from "./protobuf.ts";
import { frameRecord, readRecords } from "./tfrecord.ts";
import { decodeEventFile } from "./event_reader.ts";
import { EVENT_FILE_VERSION, TensorBoardWriter } from "./tensorboard.ts";
import { encodePng } from "./png.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("crc32c: RFC 3720 / iSCSI check values", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  // mask = rotate right by 15, plus 0xa282ead8 (mod 2^32)
  assert.equal(maskCrc(0), 0xa282ead8);
  assert.equal(maskCrc(0x8000), (1 + 0xa282ead8) >>> 0);
  assert.equal(maskCrc(1), ((1 << 17) + 0xa282ead8) >>> 0);
  assert.equal(maskedCrc32c(new Uint8Array()), maskCrc(0));
});

Deno.test("protobuf: known encodings and round trip", () => {
  // From the protobuf encoding guide: field 1 = 150 -> 08 96 01; field 2 = "testing".
  assert.equal(hex(new ProtoWriter().varint(1, 150).finish()), "089601");
  assert.equal(hex(new ProtoWriter().string(2, "testing").finish()), "120774657374696e67");
  // double 1.0 in field 1 (fixed64), float 1.0 in field 2 (fixed32), negative int64 = 10 bytes
  assert.equal(hex(new ProtoWriter().double(1, 1).finish()), "09000000000000f03f");
  assert.equal(hex(new ProtoWriter().float(2, 1).finish()), "150000803f");
  const neg = new ProtoWriter().varint(2, -1).finish();
  assert.equal(hex(neg), "10ffffffffffffffffff01");
  assert.equal(fieldInt(readFields(neg)[0]), -1);
  assert.throws(() => readFields(new Uint8Array([0x12, 0x05, 0x61])), /truncated/);
});

Deno.test("tfrecord: framing layout, CRC checks, truncated tail", () => {
  const data = new TextEncoder().encode("hello");
  const rec = frameRecord(data);
  const dv = new DataView(rec.buffer);
  assert.equal(rec.length, 8 + 4 + 5 + 4);
  assert.equal(Number(dv.getBigUint64(0, true)), 5);
  assert.equal(dv.getUint32(8, true), maskedCrc32c(rec.subarray(0, 8)));
  assert.equal(dv.getUint32(17, true), maskedCrc32c(data));
  const two = new Uint8Array([...rec, ...frameRecord(new Uint8Array([1, 2, 3]))]);
  assert.deepEqual(readRecords(two).map((r) => r.length), [5, 3]);
  // a cut last record is dropped (writer died mid-write), unless strict
  assert.equal(readRecords(two.subarray(0, two.length - 2)).length, 1);
  assert.throws(
    () => readRecords(two.subarray(0, two.length - 2), { allowTruncatedTail: false }),
    /truncated data of record 1/,
  );
  const bad = rec.slice();
  bad[13] ^= 1;
  assert.throws(() => readRecords(bad), /data CRC mismatch in record 0/);
  const badLen = rec.slice();
  badLen[0] ^= 1;
  assert.throws(() => readRecords(badLen), /length CRC mismatch/);
});

function tinyPng(): Uint8Array {
  const px = new Uint8Array(3 * 2 * 3);
  for (let i = 0; i < px.length; i++) px[i] = i * 13;
  return encodePng(px, 3, 2, 3);
}

Deno.test("TensorBoardWriter: file name, version event, scalars, image, flush on close", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sinter_tb_" });
  try {
    let t = 1_700_000_000_123;
    const w = new TensorBoardWriter(dir, { hostname: "box/1", now: () => t, flushEveryEvents: 50 });
    assert.equal(w.path, `${dir}/events.out.tfevents.1700000000.box_1`);
    const size0 = Deno.statSync(w.path).size;
    assert.ok(size0 > 0, "the file-version event is flushed at once");
    for (let step = 0; step < 5; step++) {
      t += 1000;
      w.addScalars(step, {
        train_loss: 5 - step * 0.5,
        lr: 1e-3 * (step + 1),
        "schedule/momentum": 0.996,
        skipped: undefined,
      });
    }
    w.addScalar("train_loss/koleo", NaN, 5);
    w.addScalar("data_wait", null, 5);
    assert.equal(Deno.statSync(w.path).size, size0, "events are buffered until a flush");
    const png = tinyPng();
    w.addImage("example_views", png, 0);
    w.addScalars(6, { train_loss: 1.25 });
    w.close();

    const events = decodeEventFile(Deno.readFileSync(w.path));
    assert.equal(events[0].fileVersion, EVENT_FILE_VERSION);
    assert.equal(events[0].wallTime, 1_700_000_000.123);
    assert.equal(events[0].values.length, 0);
    const scalars = events.slice(1, 6);
    scalars.forEach((e, step) => {
      assert.equal(e.step, step);
      assert.equal(e.wallTime, 1_700_000_000.123 + step + 1);
      assert.deepEqual(e.values.map((v) => v.tag), ["train_loss", "lr", "schedule/momentum"]);
      assert.equal(e.values[0].simpleValue, Math.fround(5 - step * 0.5));
      assert.equal(e.values[1].simpleValue, Math.fround(1e-3 * (step + 1)));
      assert.equal(e.values[2].simpleValue, Math.fround(0.996));
    });
    assert.ok(Number.isNaN(events[6].values[0].simpleValue));
    assert.equal(events[7].values[0].tag, "data_wait");
    assert.ok(Number.isNaN(events[7].values[0].simpleValue));
    const img = events[8].values[0];
    assert.equal(img.tag, "example_views");
    assert.equal(events[8].step, 0);
    assert.deepEqual(
      { h: img.image!.height, w: img.image!.width, c: img.image!.colorspace },
      { h: 2, w: 3, c: 3 },
    );
    assert.deepEqual(img.image!.encoded, png);
    assert.equal(events[9].step, 6);
    assert.equal(events[9].values[0].simpleValue, 1.25);
    assert.equal(events.length, 10);

    // same second, same host: a second writer gets a distinct name
    const w2 = new TensorBoardWriter(dir, { hostname: "box/1", now: () => 1_700_000_000_500 });
    assert.equal(w2.path, `${dir}/events.out.tfevents.1700000000.box_1.1`);
    w2.close();
    assert.throws(() => w2.addScalar("x", 1, 0), /after close/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("TensorBoardWriter: read back by tensorboard's EventAccumulator when installed", async () => {
  const py = "/usr/bin/python3";
  let probe: Deno.CommandOutput;
  try {
    probe = await new Deno.Command(py, { args: ["-c", "import tensorboard"] }).output();
  } catch (e) {
    console.log(`skipping the tensorboard cross-check: cannot run ${py} (${(e as Error).message})`);
    return;
  }
  if (!probe.success) {
    const why = new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
    console.log(`skipping the tensorboard cross-check: python3 cannot import tensorboard (${why})`);
    return;
  }
  const dir = Deno.makeTempDirSync({ prefix: "sinter_tb_py_" });
  try {
    const w = new TensorBoardWriter(dir, { hostname: "test" });
    for (let s = 0; s < 4; s++) w.addScalars(s, { train_loss: 2 - s * 0.25, lr: 0.1 });
    w.addImage("example_views", tinyPng(), 0);
    w.close();
    const script = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
ea.Reload()
tags = ea.Tags()
print(json.dumps({
  "scalars": {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags["scalars"]},
  "images": {t: [[e.step, e.width, e.height] for e in ea.Images(t)] for t in tags["images"]},
}))`;
    const out = await new Deno.Command(py, { args: ["-c", script, dir] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(got.scalars.train_loss, [[0, 2], [1, 1.75], [2, 1.5], [3, 1.25]]);
    assert.equal(got.scalars.lr.length, 4);
    assert.deepEqual(got.images.example_views, [[0, 3, 2]]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
