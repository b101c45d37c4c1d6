/**
 * `exportModel`: the pretrained backbone of a checkpoint as safetensors with PyTorch names
 * (torchvision / timm / DINOv2 keys, loadable with `load_state_dict`) or as ONNX (the
 * backbone's eval forward: `features` and `pooled`).
 *
 * @module
 */
import { initDevice } from "./device.ts";
import { type Checkpoint, loadCheckpoint } from "./checkpoint.ts";
import { ConfigError } from "./schema.ts";
import { exportWeights } from "./trainer.ts";
import { createModel, type ModelWrapper } from "../models/wrapper.ts";
import { exportOnnx, saveOnnx } from "../models/onnx.ts";
import "../models/mod.ts";

/** Arguments of {@link exportModel} (LightlyTrain's names). */
export interface ExportArgs {
  /** Output file (`.safetensors` or `.onnx`). */
  out: string;
  /** A checkpoint written by `pretrain` (`out/checkpoints/last.ckpt`). */
  checkpoint: string;
  /** `model` (the backbone; the only part Sinter exports). */
  part?: "model";
  /** `safetensors` (default; `package_default` and `torch_state_dict` mean the same) or `onnx`. */
  format?: "safetensors" | "package_default" | "torch_state_dict" | "onnx";
  /** Replace an existing `out`. */
  overwrite?: boolean;
  /** ONNX input height (default: the training view size). */
  height?: number;
  /** ONNX input width (default: the training view size). */
  width?: number;
}

/** Rebuilds the exported backbone of a checkpoint (eval mode). */
export function modelFromCheckpoint(ck: Checkpoint): ModelWrapper {
  const cfg = ck.meta.config as Record<string, unknown>;
  const ta = cfg.transform_args as {
    num_channels?: number | string;
    normalize?: { mean: number[] };
  };
  const inChannels = typeof ta?.num_channels === "number"
    ? ta.num_channels
    : ta?.normalize?.mean.length ?? 3;
  const model = createModel(String(cfg.model), {
    ...((cfg.model_args as Record<string, unknown> | null) ?? {}),
    inChannels,
    seed: Number(cfg.seed ?? 0),
  });
  const prefix = String(ck.meta.extra?.export_module ?? "model");
  ck.restoreModule(prefix, model.getModel());
  model.getModel().eval();
  return model;
}

function checkOut(out: string, overwrite: boolean): void {
  try {
    Deno.statSync(out);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!overwrite) throw new ConfigError(`out=${out} exists; pass overwrite=true to replace it`);
}

/** Exports the backbone of a checkpoint; returns the written path. */
export async function exportModel(args: ExportArgs): Promise<string> {
  const valid = ["out", "checkpoint", "part", "format", "overwrite", "height", "width"];
  for (const k of Object.keys(args)) {
    if (!valid.includes(k)) {
      throw new ConfigError(`export: unknown argument '${k}' (valid: ${valid.join(", ")})`);
    }
  }
  if (!args.out || !args.checkpoint) {
    throw new ConfigError("export: out and checkpoint are required");
  }
  if ((args.part ?? "model") !== "model") {
    throw new ConfigError(`export: part=${args.part} is not supported; Sinter exports part=model`);
  }
  const format = args.format ?? "safetensors";
  if (!["safetensors", "package_default", "torch_state_dict", "onnx"].includes(format)) {
    throw new ConfigError(`export: format=${format}; use safetensors or onnx`);
  }
  checkOut(args.out, args.overwrite ?? false);
  await initDevice();
  const ck = await loadCheckpoint(args.checkpoint);
  const model = modelFromCheckpoint(ck);
  try {
    if (format === "onnx") {
      const size = ((ck.meta.config.transform_args as { image_size?: number[] })?.image_size) ??
        [224, 224];
      const h = args.height ?? size[0], w = args.width ?? size[1];
      await saveOnnx(
        args.out,
        await exportOnnx(model, { inputShape: [1, model.inChannels, h, w] }),
      );
    } else {
      await exportWeights(model, args.out);
    }
  } finally {
    model.getModel().dispose();
  }
  return args.out;
}
