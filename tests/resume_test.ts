// A killed run resumed with resume_interrupted=true ends bit-identical to an uninterrupted run.
import assert from "node:assert/strict";
import { CLI, PERMS } from "./cli_helper.ts";
import { writeSampleImages } from "../data/sample.ts";
import { loadCheckpoint } from "../core/checkpoint.ts";

const ARGS = [
  "model=sinter/tinycnn16",
  "method=simclr",
  "epochs=4",
  "batch_size=8",
  "num_workers=0",
  "method_args.hidden_dim=32",
  "method_args.output_dim=16",
  "transform_args.image_size=[16,16]",
  "loggers.tensorboard=null",
];

function cli(out: string, data: string, extra: string[] = []) {
  return new Deno.Command("deno", {
    args: [
      "run",
      ...PERMS,
      CLI,
      "pretrain",
      `out=${out}`,
      `data=${data}`,
      ...ARGS,
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("kill mid-run, resume_interrupted=true, final weights bit-identical", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSampleImages(`${dir}/data`, 4, 16); // 24 images -> 3 steps per epoch
    const full = await cli(`${dir}/full`, `${dir}/data`).output();
    assert.equal(full.code, 0, new TextDecoder().decode(full.stderr));

    const child = cli(`${dir}/killed`, `${dir}/data`).spawn();
    // Kill as soon as the epoch-2 checkpoint exists: the run is then inside epoch 3.
    const deadline = Date.now() + 120_000;
    while (!(await exists(`${dir}/killed/checkpoints/epoch=1-step=6.ckpt`))) {
      if (Date.now() > deadline) throw new Error("the run never reached epoch 2");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    const killed = await child.output();
    assert.notEqual(killed.code, 0, "the run was killed before it finished");
    assert.ok(!(await exists(`${dir}/killed/checkpoints/epoch=3-step=12.ckpt`)));

    const resumed = await cli(`${dir}/killed`, `${dir}/data`, ["resume_interrupted=true"]).output();
    const log = new TextDecoder().decode(resumed.stderr);
    assert.equal(resumed.code, 0, log);
    assert.match(
      await Deno.readTextFile(`${dir}/killed/train.log`),
      /Resuming from .*last\.ckpt at step [36]/,
    );

    const a = await Deno.readFile(`${dir}/full/exported_models/exported_last.safetensors`);
    const b = await Deno.readFile(`${dir}/killed/exported_models/exported_last.safetensors`);
    assert.equal(a.length, b.length);
    assert.ok(a.every((v, i) => v === b[i]), "exported weights differ after resume");
    // Every checkpoint tensor (model, head, BN stats, optimizer state) is identical; only the
    // metadata differs (out path, resume flag).
    const ca = await loadCheckpoint(`${dir}/full/checkpoints/last.ckpt`);
    const cb = await loadCheckpoint(`${dir}/killed/checkpoints/last.ckpt`);
    assert.deepEqual(cb.file.keys(), ca.file.keys());
    for (const k of ca.file.keys()) {
      assert.deepEqual(cb.file.get(k).data, ca.file.get(k).data, `checkpoint tensor ${k} differs`);
    }
    assert.equal(cb.meta.step, ca.meta.step);
    assert.deepEqual(cb.meta.rng, ca.meta.rng);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
