// The command line end to end: pretrain, export, embed, errors, NaN stop, new_method.
import assert from "node:assert/strict";
import { cli } from "./cli_helper.ts";
import { writeSampleImages } from "../data/sample.ts";
import { loadCheckpoint } from "../core/checkpoint.ts";
import { loadSafetensors } from "../models/safetensors.ts";

const SMALL = [
  "model=sinter/tinycnn16",
  "method=simclr",
  "batch_size=8",
  "num_workers=0",
  "method_args.hidden_dim=32",
  "method_args.output_dim=16",
  "transform_args.image_size=[16,16]",
];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await writeSampleImages(`${dir}/data`, 4, 16);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: pretrain, then export (safetensors, onnx) and embed (csv, npy, safetensors)", async () => {
  await withDir(async (dir) => {
    const r = await cli("pretrain", `out=${dir}/run`, `data=${dir}/data`, "epochs=1", ...SMALL);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /done: 3 steps/);
    for (
      const f of [
        "checkpoints/last.ckpt",
        "exported_models/exported_last.safetensors",
        "metrics.jsonl",
        "train.log",
        "config.json",
        "report.html",
      ]
    ) {
      await Deno.stat(`${dir}/run/${f}`);
    }
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/run/config.json`));
    assert.equal(cfg.optim, "sgd");
    assert.equal(cfg.dataset_size, 24);
    const ck = `${dir}/run/checkpoints/last.ckpt`;
    assert.equal((await cli("export", `out=${dir}/m.safetensors`, `checkpoint=${ck}`)).code, 0);
    const m = await loadSafetensors(`${dir}/m.safetensors`);
    assert.ok(m.has("layers.0.conv.weight") && m.has("layers.6.bn.running_var"));
    assert.equal(
      (await cli("export", `out=${dir}/m.onnx`, `checkpoint=${ck}`, "format=onnx")).code,
      0,
    );
    assert.ok((await Deno.stat(`${dir}/m.onnx`)).size > 100_000);
    const again = await cli("export", `out=${dir}/m.onnx`, `checkpoint=${ck}`, "format=onnx");
    assert.notEqual(again.code, 0);
    assert.match(again.err, /exists; pass overwrite=true/);
    for (const format of ["csv", "npy", "safetensors"]) {
      const e = await cli(
        "embed",
        `out=${dir}/e.${format}`,
        `data=${dir}/data`,
        `checkpoint=${ck}`,
        `format=${format}`,
        "image_size=[16,16]",
      );
      assert.equal(e.code, 0, e.err);
    }
    const csv = (await Deno.readTextFile(`${dir}/e.csv`)).trim().split("\n");
    assert.equal(csv.length, 25);
    assert.equal(csv[1].split(",").length, 129);
    assert.match(csv[1], /^blobs\/0000\.png,/);
    const npy = await Deno.readFile(`${dir}/e.npy`);
    assert.equal(npy.length, 128 + 24 * 128 * 4);
    const st = await loadSafetensors(`${dir}/e.safetensors`);
    assert.deepEqual(st.get("embeddings").shape, [24, 128]);
    assert.equal(JSON.parse(st.metadata!.filenames).length, 24);
  });
});

Deno.test("cli: bad input gets a clear error", async () => {
  await withDir(async (dir) => {
    const typo = await cli("pretrain", `out=${dir}/a`, `data=${dir}/data`, "batchsize=4", ...SMALL);
    assert.equal(typo.code, 1);
    assert.match(typo.err, /unknown argument 'batchsize'; did you mean 'batch_size'/);
    const missing = await cli("pretrain", `out=${dir}/a`, `data=${dir}/nope`, ...SMALL);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope/);
    await Deno.mkdir(`${dir}/full`);
    await Deno.writeTextFile(`${dir}/full/x.txt`, "keep me");
    const full = await cli("pretrain", `out=${dir}/full`, `data=${dir}/data`, ...SMALL);
    assert.match(full.err, /exists and is not empty; pass overwrite=true/);
    assert.equal(await Deno.readTextFile(`${dir}/full/x.txt`), "keep me");
    const method = await cli(
      "pretrain",
      `out=${dir}/b`,
      `data=${dir}/data`,
      "model=sinter/tinycnn16",
      "method=simclrr",
    );
    assert.match(method.err, /unknown method 'simclrr'\. Known methods: .*simclr/);
    const model = await cli(
      "pretrain",
      `out=${dir}/c`,
      `data=${dir}/data`,
      "model=resnet18",
      "method=simclr",
    );
    assert.match(model.err, /unknown model 'resnet18'\. Known models: .*torchvision\/resnet18/);
    const margs = await cli(
      "pretrain",
      `out=${dir}/d`,
      `data=${dir}/data`,
      ...SMALL,
      "method_args.temprature=0.2",
    );
    assert.match(
      margs.err,
      /method_args\.temprature: unknown argument of method 'simclr'; did you mean 'temperature'/,
    );
  });
});

Deno.test("cli: a NaN loss stops the run and keeps the last good checkpoint", async () => {
  await withDir(async (dir) => {
    assert.equal(
      (await cli("pretrain", `out=${dir}/run`, `data=${dir}/data`, "epochs=1", ...SMALL)).code,
      0,
    );
    const r = await cli(
      "pretrain",
      `out=${dir}/run`,
      `data=${dir}/data`,
      "epochs=3",
      "resume_interrupted=true",
      "optim_args.lr=1e30",
      ...SMALL,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /the loss became (NaN|Infinity|-Infinity) at step \d+\. The last good checkpoint is .*last\.ckpt \(step 3\)/,
    );
    assert.equal((await loadCheckpoint(`${dir}/run/checkpoints/last.ckpt`)).meta.step, 3);
  });
});

Deno.test("cli: new_method scaffolds a plugin that passes its own test and loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli("new_method", "name=mymethod", `out=${dir}/mymethod`);
    assert.equal(r.code, 0, r.err);
    const t = await new Deno.Command("deno", {
      args: ["test", "-A", `${dir}/mymethod`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      t.code,
      0,
      new TextDecoder().decode(t.stdout) + new TextDecoder().decode(t.stderr),
    );
    const l = await cli("list_methods", `plugins=${dir}/mymethod`);
    assert.match(l.out, /^mymethod +mymethod: two-view/m);
    assert.match(l.out, /^simclr /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
