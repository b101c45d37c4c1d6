// kNN evaluation end to end: the knn_monitor callback during pretrain (metrics.jsonl and the
// report), the eval_knn command on the same checkpoint (same numbers), and its errors.
import assert from "node:assert/strict";
import { cli } from "./cli_helper.ts";
import { writeSampleImages } from "../data/sample.ts";
import { decodeEventFile } from "../core/logging/event_reader.ts";

Deno.test("knn_monitor logs kNN top-1 every epoch; eval_knn on the checkpoint gives the same numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSampleImages(`${dir}/train`, 4, 16, 0);
    await writeSampleImages(`${dir}/val`, 2, 16, 1);
    const r = await cli(
      "pretrain",
      `out=${dir}/run`,
      `data=${dir}/train`,
      "model=sinter/tinycnn16",
      "method=simclr",
      "epochs=2",
      "batch_size=8",
      "num_workers=0",
      "method_args.hidden_dim=32",
      "method_args.output_dim=16",
      "transform_args.image_size=[16,16]",
      `callbacks.knn_monitor.train=${dir}/train`,
      `callbacks.knn_monitor.val=${dir}/val`,
      "callbacks.knn_monitor.k=[5,20]",
    );
    assert.equal(r.code, 0, r.err);
    const rows = (await Deno.readTextFile(`${dir}/run/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => "knn/top1_k5" in m);
    assert.deepEqual(rows.map((m) => m.epoch), [0, 1]);
    assert.deepEqual(rows.map((m) => m.step), [2, 5]);
    for (const m of rows) {
      assert.ok(m["knn/top1_k5"] >= 0 && m["knn/top1_k5"] <= 100);
      // 12 queries: a percentage is a multiple of 100/12.
      assert.ok(
        Math.abs((m["knn/top1_k20"] * 12) / 100 - Math.round((m["knn/top1_k20"] * 12) / 100)) <
          1e-6,
      );
    }
    assert.match(await Deno.readTextFile(`${dir}/run/train.log`), /kNN top-1 after epoch 2: k=5/);
    // TensorBoard has the same values at the same steps (float32 there).
    const tf = [...Deno.readDirSync(`${dir}/run`)].find((f) => f.name.startsWith("events.out"))!;
    const knnEvents = decodeEventFile(await Deno.readFile(`${dir}/run/${tf.name}`))
      .flatMap((e) => e.values.filter((v) => v.tag === "knn/top1_k5").map((v) => [e.step, v]));
    assert.deepEqual(knnEvents.map(([step]) => step), [2, 5]);
    knnEvents.forEach(([, v], i) =>
      assert.ok(
        Math.abs((v as { simpleValue: number }).simpleValue - rows[i]["knn/top1_k5"]) < 1e-4,
      )
    );
    const report = await Deno.readTextFile(`${dir}/run/report.html`);
    assert.match(report, /kNN top-1 \(validation\)/);
    assert.match(report, /Last kNN top-1 \(step 5\)/);

    const e = await cli(
      "eval_knn",
      `checkpoint=${dir}/run/checkpoints/last.ckpt`,
      `train=${dir}/train`,
      `val=${dir}/val`,
      "k=[5,20]",
      `out=${dir}/knn.json`,
    );
    assert.equal(e.code, 0, e.err);
    assert.match(
      e.out,
      /kNN top-1: k=5 [\d.]+%, k=20 [\d.]+% \(bank 24, queries 12, 6 classes, 128-d/,
    );
    const j = JSON.parse(await Deno.readTextFile(`${dir}/knn.json`));
    assert.equal(100 * j.top1["5"], rows[1]["knn/top1_k5"]);
    assert.equal(100 * j.top1["20"], rows[1]["knn/top1_k20"]);
    assert.deepEqual(j.image_size, [16, 16]);

    // A random-init model by name works too; bad input says what to do.
    const rnd = await cli(
      "eval_knn",
      "model=sinter/tinycnn16",
      `train=${dir}/train`,
      `val=${dir}/val`,
      "image_size=16",
    );
    assert.equal(rnd.code, 0, rnd.err);
    await writeSampleImages(`${dir}/flat`, 1, 16, 2);
    for (const f of Deno.readDirSync(`${dir}/flat/blobs`)) {
      await Deno.rename(`${dir}/flat/blobs/${f.name}`, `${dir}/flat/${f.name}`);
    }
    for (
      const [args, msg] of [
        [[`train=${dir}/flat`, `val=${dir}/val`], /class in its own sub-folder/],
        [[`train=${dir}/train`], /train \(memory bank\) and val \(queries\) are required/],
        [
          [`train=${dir}/train`, `val=${dir}/val`, "kk=3"],
          /unknown argument 'kk'; did you mean 'k'/,
        ],
        [[`train=${dir}/nope`, `val=${dir}/val`], /data folder not found/],
      ] as const
    ) {
      const b = await cli("eval_knn", "model=sinter/tinycnn16", "image_size=16", ...args);
      assert.equal(b.code, 1);
      assert.match(b.err, msg);
    }
    const both = await cli(
      "eval_knn",
      "model=sinter/tinycnn16",
      "checkpoint=x",
      "train=a",
      "val=b",
    );
    assert.match(both.err, /either checkpoint=FILE or model=NAME/);
    // The callback checks its sets before training.
    const early = await cli(
      "pretrain",
      `out=${dir}/run2`,
      `data=${dir}/train`,
      "model=sinter/tinycnn16",
      "method=simclr",
      `callbacks.knn_monitor.train=${dir}/flat`,
      `callbacks.knn_monitor.val=${dir}/val`,
    );
    assert.equal(early.code, 1);
    assert.match(early.err, /callbacks.knn_monitor.train: images need labels/);
    await assert.rejects(() => Deno.stat(`${dir}/run2/checkpoints`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
