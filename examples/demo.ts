/**
 * `deno task demo`: the main job on built-in sample data, end to end through the public API.
 *
 * 1. Writes procedurally generated images (6 pattern classes) to a temp folder: a training
 *    set (no labels used) and a held-out set.
 * 2. Pretrains a teacher with `dino` (the default method, distillation, needs a teacher: the
 *    LightlyTrain workflow is to pretrain one with DINO/DINOv2 first).
 * 3. Distills it into `sinter/tinycnn16` with the default method (`distillation`, v3).
 * 4. Exports the student, embeds the training and held-out images, and prints the kNN top-1
 *    accuracy of the held-out images against the training set, for the pretrained student and
 *    for the same model at random initialization (a run with epochs=0, as LightlyTrain does it).
 *
 * Run: `deno run --allow-read --allow-write --allow-env --allow-ffi examples/demo.ts [keep=DIR]`
 *
 * @module
 */
import { embed, exportModel, pretrain } from "../mod.ts";
import { writeSampleImages } from "../data/sample.ts";
import { loadSafetensors } from "../models/safetensors.ts";
import { knnAccuracy, labelsFromFolders } from "../eval/knn.ts";

const SIZE = Number(Deno.env.get("SINTER_DEMO_SIZE") ?? 32);

async function embeddings(dir: string, checkpoint: string, data: string, name: string) {
  const out = `${dir}/${name}.safetensors`;
  await embed({
    out,
    data,
    checkpoint,
    format: "safetensors",
    image_size: [SIZE, SIZE],
    overwrite: true,
  });
  const f = await loadSafetensors(out);
  const t = f.get("embeddings");
  const filenames = JSON.parse(f.metadata!.filenames) as string[];
  return {
    data: f.float32("embeddings"),
    dim: t.shape[1],
    labels: labelsFromFolders(filenames).labels,
  };
}

/** Runs the demo; returns the accuracies it printed. */
export async function runDemo(
  opts: { dir?: string; log?: (s: string) => void; scale?: number } = {},
) {
  const log = opts.log ?? console.log;
  const scale = opts.scale ?? 1;
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "sinter-demo-" });
  const t0 = performance.now();
  const train = `${dir}/train`, held = `${dir}/heldout`;
  await writeSampleImages(train, Math.round(32 * scale), SIZE, 1);
  await writeSampleImages(held, Math.round(16 * scale), SIZE, 2);
  log(`sample data: ${train} (${6 * Math.round(32 * scale)} images), ${held}`);
  const common = {
    data: train,
    batch_size: 64,
    num_workers: 0,
    overwrite: true,
    transform_args: { image_size: [SIZE, SIZE] },
    loggers: { tensorboard: null },
  };

  log("1/3 pretraining a teacher with dino ...");
  const teacher = await pretrain({
    ...common,
    out: `${dir}/teacher`,
    model: "sinter/tinycnn16",
    method: "dino",
    epochs: Math.max(1, Math.round(5 * scale)),
    method_args: { hidden_dim: 128, bottleneck_dim: 32, output_dim: 256 },
    transform_args: {
      image_size: [SIZE, SIZE],
      local_view: { view_size: [SIZE / 2, SIZE / 2], num_views: 2 },
    },
  }, { console: false });
  log(`    teacher: ${teacher.steps} steps, loss ${teacher.lastLoss?.toFixed(3)}`);

  log("2/3 distilling it into sinter/tinycnn16 with the default method (distillation) ...");
  const student = await pretrain({
    ...common,
    out: `${dir}/student`,
    model: "sinter/tinycnn16",
    epochs: Math.max(1, Math.round(6 * scale)),
    method_args: { teacher: "sinter/tinycnn16", teacher_weights: teacher.exported },
  }, { console: false });
  log(`    student: ${student.steps} steps, loss ${student.lastLoss?.toFixed(3)}`);
  const exported = await exportModel({
    out: `${dir}/student_backbone.safetensors`,
    checkpoint: student.checkpoint,
    overwrite: true,
  });
  log(`    exported ${exported}`);

  log("3/3 kNN accuracy of held-out images (embeddings of the exported backbone) ...");
  const random = await pretrain({
    ...common,
    out: `${dir}/random`,
    model: "sinter/tinycnn16",
    method: "simclr",
    epochs: 0,
  }, {
    console: false,
  });
  const result: Record<string, number> = {};
  for (
    const [name, ck] of [["random init", random.checkpoint], ["pretrained", student.checkpoint]]
  ) {
    const bank = await embeddings(dir, ck, train, `${name.replace(" ", "_")}_train`);
    const queries = await embeddings(dir, ck, held, `${name.replace(" ", "_")}_held`);
    const acc = await knnAccuracy(bank, queries, { k: [5, 20] });
    result[name] = acc[20];
    log(
      `    ${name.padEnd(12)} kNN top-1: k=5 ${(acc[5] * 100).toFixed(1)}%  k=20 ${
        (acc[20] * 100).toFixed(1)
      }%`,
    );
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s; outputs in ${dir}`);
  if (!opts.dir) await Deno.remove(dir, { recursive: true });
  return result;
}

if (import.meta.main) {
  const keep = Deno.args.find((a) => a.startsWith("keep="))?.slice(5);
  if (keep) await Deno.mkdir(keep, { recursive: true });
  await runDemo({ dir: keep });
}
