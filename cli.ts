/**
 * The Sinter command line, LightlyTrain's syntax: `deno run <permissions> cli.ts <command>
 * key=value ...` with dotted keys and YAML values (`optim_args.betas=[0.9,0.999]`,
 * `loggers.tensorboard=null`).
 *
 * Commands: `pretrain`, `export`, `embed`, `eval_knn`, `list_methods`, `list_models`,
 * `new_method`, `doctor`, `help`;
 * `<command> help` prints that command's help.
 *
 * @module
 */
import { getDevice, NoAdapterError, readEnv } from "./core/device.ts";
import { parseKeyValues } from "./core/train_config.ts";
import { parseYaml } from "./transforms/yaml.ts";

const PERMS_TRAIN = "--allow-read --allow-write --allow-env --allow-ffi";

const HELP: Record<string, string> = {
  "": `sinter: self-supervised pretraining on WebGPU (LightlyTrain's commands, in Deno)

usage: deno run <permissions> cli.ts <command> [key=value ...]

commands:
  pretrain      pretrain a backbone on a folder of images
  export        export a checkpoint's backbone (safetensors or onnx)
  embed         embed a folder of images with a checkpoint's backbone
  eval_knn      kNN top-1 of a backbone on a labelled set (memory bank + queries)
  list_methods  the methods (built-in and plugins)
  list_models   the model names
  new_method    scaffold a method plugin folder
  doctor        the WebGPU adapter, backend, limits and features
  help          this text; '<command> help' for one command

example:
  deno run ${PERMS_TRAIN} cli.ts pretrain out=runs/exp data=images model=torchvision/resnet18 method=simclr epochs=10
`,
  pretrain: `pretrain out=DIR data=DIR|[files,dirs] model=NAME [method=distillation] [key=value ...]

Keys (LightlyTrain's names and defaults): method_args.*, epochs=auto, steps=auto, batch_size=128,
gradient_accumulation_steps=1, num_workers=auto, seed=0, optim=auto|adamw|sgd|lars, optim_args.*,
transform_args.*, loader_args.{image_size,cache_bytes,resize,prefetch}, model_args.*,
loggers.{jsonl,tensorboard}=null to disable, resume_interrupted=true, checkpoint=FILE,
overwrite=true, plugins=PATH|[PATHS] (third-party methods; also SINTER_PLUGINS_DIR),
callbacks.knn_monitor.{train,val}=DIR|IDX [callbacks.knn_monitor.every_n_epochs=1] (kNN top-1
on a labelled set every N epochs, logged as knn/top1_k20 and knn/top1_k200).
Sinter extensions: steps=N, method_args.{lr_scale_method=linear|sqrt|none, reference_batch_size,
lr_warmup_steps, lr_end_factor}, transform_args.color_jitter.single_channel=true,
data=FILE-idx3-ubyte[.gz] (IDX images, e.g. Fashion-MNIST).
Permissions: ${PERMS_TRAIN}  (sharp decodes images through FFI)
Writes: out/checkpoints/last.ckpt, out/exported_models/exported_last.safetensors, metrics.jsonl,
events.out.tfevents.*, train.log, config.json, report.html.
`,
  export:
    `export out=FILE checkpoint=out/checkpoints/last.ckpt [format=safetensors|onnx] [part=model]
       [height=H width=W (onnx)] [overwrite=true]
Permissions: --allow-read --allow-write --allow-env
`,
  embed:
    `embed out=FILE data=DIR checkpoint=FILE [format=csv|npy|safetensors] [image_size=[224,224]]
      [batch_size=128] [num_workers=auto] [overwrite=true]
Permissions: ${PERMS_TRAIN}
`,
  eval_knn:
    `eval_knn train=DIR|IDX val=DIR|IDX (checkpoint=FILE | model=NAME [weights=FILE] [model_args.*])
         [image_size=224] [normalize.mean=[..] normalize.std=[..]] [k=[20,200]] [temperature=0.07]
         [batch_size=256] [num_workers=auto] [out=FILE.json] [overwrite=true]
train is the labelled memory bank, val the queries: class sub-folders (class/image.jpg) or IDX
images files with their labels file beside them. Cosine similarity of L2-normalized pooled
features, votes weighted by exp(sim/temperature), top-1 per k (DINO's protocol).
Permissions: ${PERMS_TRAIN}
`,
  list_methods: `list_methods [plugins=PATH|[PATHS]]   the methods, built-in and third-party
Permissions: --allow-read --allow-env
`,
  list_models: `list_models   every model name (<package>/<name>)
Permissions: none
`,
  new_method:
    `new_method name=NAME out=DIR   scaffold a method plugin folder that passes its own test
Permissions: --allow-write
`,
  doctor: `doctor [json=true]   the WebGPU adapter, backend, limits and features
Permissions: none required; --allow-env to honour DENO_WEBGPU_BACKEND, SINTER_* and set LP_NUM_THREADS
`,
};

/** `doctor`: prints the adapter report; returns the process exit code. */
export async function doctor(args: Record<string, unknown>): Promise<number> {
  for (const k of Object.keys(args)) {
    if (k !== "json") throw new Error(`doctor: unknown key '${k}' (valid: json)`);
  }
  let dev;
  try {
    dev = await getDevice();
  } catch (e) {
    if (e instanceof NoAdapterError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const r = dev.report;
  if (args.json === true) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  console.log(
    `adapter:  ${r.description} (vendor ${r.vendor}${r.architecture ? ", " + r.architecture : ""})`,
  );
  console.log(`backend:  ${r.backend}${r.software ? " (software adapter: CPU rasterizer)" : ""}`);
  console.log(`threads:  LP_NUM_THREADS=${readEnv("LP_NUM_THREADS") ?? "(unset)"}`);
  console.log(`f16:      ${r.f16 ? "shader-f16 available" : "no shader-f16 (fp32 only)"}`);
  console.log(`features: ${r.features.join(", ")}`);
  console.log("limits:");
  for (const [k, v] of Object.entries(r.limits)) console.log(`  ${k.padEnd(42)} ${v}`);
  if (r.software) {
    console.log(
      "note: this is a software adapter; training runs on the CPU. A real GPU driver " +
        "(Vulkan/Metal/D3D12) is much faster.",
    );
  }
  return 0;
}

async function loadPluginsArg(v: unknown): Promise<void> {
  const { loadPlugin, scanPluginsFolder } = await import("./core/plugin.ts");
  const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
  for (const s of list) await loadPlugin(String(s));
  const dir = readEnv("SINTER_PLUGINS_DIR");
  if (dir) await scanPluginsFolder(dir);
}

/** Runs a CLI invocation; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const name = cmd === undefined || ["help", "--help", "-h"].includes(cmd) ? "" : cmd;
  if (name === "" || rest[0] === "help" || rest[0] === "--help") {
    const text = HELP[name];
    if (text === undefined) {
      console.error(
        `unknown command '${cmd}'. Commands: ${Object.keys(HELP).filter(Boolean).join(", ")}`,
      );
      return 2;
    }
    console.log(text);
    return 0;
  }
  try {
    const args = parseKeyValues(rest, parseYaml);
    switch (name) {
      case "doctor":
        return await doctor(args);
      case "pretrain": {
        const { pretrain } = await import("./core/trainer.ts");
        const r = await pretrain(args);
        console.log(
          `done: ${r.steps} steps, last loss ${
            r.lastLoss?.toFixed(4) ?? "n/a"
          }; backbone in ${r.exported}`,
        );
        return 0;
      }
      case "export": {
        const { exportModel } = await import("./core/export.ts");
        console.log(`exported ${await exportModel(args as never)}`);
        return 0;
      }
      case "embed": {
        const { embed } = await import("./core/embed.ts");
        console.log(`embeddings in ${await embed(args as never)}`);
        return 0;
      }
      case "eval_knn":
      case "eval-knn": {
        const { evalKnn } = await import("./eval/knn.ts");
        const r = await evalKnn(args as never);
        const cells = Object.entries(r.top1).map(([k, v]) => `k=${k} ${(100 * v).toFixed(2)}%`);
        console.log(
          `kNN top-1: ${cells.join(", ")} (bank ${r.bankSize}, queries ${r.querySize}, ` +
            `${r.classes} classes, ${r.dim}-d, ${r.seconds.toFixed(1)} s)`,
        );
        return 0;
      }
      case "list_methods": {
        for (const k of Object.keys(args)) {
          if (k !== "plugins") throw new Error(`list_methods: unknown key '${k}' (valid: plugins)`);
        }
        const { listMethods } = await import("./methods/mod.ts");
        await loadPluginsArg(args.plugins);
        for (const m of listMethods()) {
          console.log(`${m.name.padEnd(16)} ${m.description}${m.builtin ? "" : `  [${m.source}]`}`);
        }
        return 0;
      }
      case "list_models": {
        const { listModels } = await import("./models/mod.ts");
        for (const m of listModels()) console.log(`${m.name.padEnd(34)} ${m.description}`);
        return 0;
      }
      case "new_method":
      case "new-method": {
        const { scaffoldMethod } = await import("./methods/scaffold.ts");
        for (const k of Object.keys(args)) {
          if (!["name", "out"].includes(k)) {
            throw new Error(`new_method: unknown key '${k}' (valid: name, out)`);
          }
        }
        if (!args.name || !args.out) throw new Error("new_method: name and out are required");
        const files = await scaffoldMethod({ name: String(args.name), out: String(args.out) });
        console.log(`wrote ${files.join(", ")}\ntest it: deno test -A ${args.out}`);
        return 0;
      }
      default:
        console.error(
          `unknown command '${cmd}'. Commands: ${Object.keys(HELP).filter(Boolean).join(", ")}`,
        );
        return 2;
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
