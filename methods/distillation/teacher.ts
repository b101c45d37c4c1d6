/**
 * The frozen teacher of the distillation methods: argument checks with actionable errors (Sinter
 * downloads no weights, so every teacher comes from a safetensors file the user supplies, and
 * the errors say which file and how to convert the official checkpoint), loading through
 * `ctx.loadModel`, and freezing (eval mode, `requiresGrad=false`; the forward runs under
 * `noGrad`). The teacher is never checkpointed: it comes back from its weights file.
 *
 * @module
 */
import type { MethodContext } from "../../core/plugin.ts";
import type { ModelWrapper } from "../../models/wrapper.ts";

/** The teacher arguments the three distillation versions share (LightlyTrain names). */
export interface TeacherArgs {
  /** Model registry name of the teacher. */
  teacher: string;
  /** Path of a safetensors file with the teacher's `state_dict`. */
  teacher_weights: string | null;
  /** Model options of the teacher (v3 only). */
  teacher_args?: Record<string, unknown> | null;
}

/** The DINOv2 teacher Sinter suggests instead of LightlyTrain's DINOv3 default. */
export const SUGGESTED_TEACHER = "dinov2/vitb14-noreg";

/** LightlyTrain's LARS arguments of the distillation methods (v1, v2, v3 differ only in lr). */
export function distillationLars(lr: number): Record<string, unknown> {
  return {
    lr,
    momentum: 0.9,
    dampening: 0,
    weightDecay: 1e-6,
    nesterov: false,
    trustCoefficient: 0.001,
    eps: 1e-8,
  };
}

/** The run defaults the three distillation versions share (spec 2.1-2.3). */
export const DISTILLATION_RUN = {
  epochs: 100,
  lrScaleMethod: "sqrt",
  referenceBatchSize: 1536,
  gradientClip: 1.0,
  warmup: "epochs",
} as const;

/** Where the official PyTorch checkpoint of a registered model comes from. */
export interface OfficialCheckpoint {
  /** File name of the checkpoint. */
  file: string;
  /** Where to get it. */
  from: string;
  /** Python expression giving the state dict, with `torch` imported. */
  load: string;
}

/** The official checkpoint of `name` (DINOv2, torchvision, timm), or a generic description. */
export function officialCheckpoint(name: string): OfficialCheckpoint {
  const dino = /^dinov2\/(vit[sbl]14)(-noreg)?$/.exec(name);
  if (dino) {
    const file = `dinov2_${dino[1]}${dino[2] ? "" : "_reg4"}_pretrain.pth`;
    return {
      file,
      from: `https://dl.fbaipublicfiles.com/dinov2/dinov2_${dino[1]}/${file}`,
      load: `torch.load('${file}', map_location='cpu')`,
    };
  }
  const tv = /^torchvision\/(\w+)$/.exec(name);
  if (tv) {
    return {
      file: `${tv[1]}.pth`,
      from: "torchvision",
      load: `{k: v for k, v in __import__('torchvision').models.${
        tv[1]
      }(weights='DEFAULT').state_dict().items() if not k.startswith('fc.')}`,
    };
  }
  const timm = /^timm\/(\w+)$/.exec(name);
  if (timm) {
    return {
      file: `${timm[1]}.pth`,
      from: "timm",
      load: `__import__('timm').create_model('${timm[1]}', pretrained=True, num_classes=0)` +
        `.state_dict()`,
    };
  }
  const stem = name.replace(/\W+/g, "_");
  return {
    file: `${stem}.pth`,
    from: `a PyTorch checkpoint of '${name}' (its state_dict, PyTorch parameter names)`,
    load: `torch.load('${stem}.pth', map_location='cpu')`,
  };
}

/** The file to supply for `name` and the one line of Python that makes it. */
export function weightsHint(name: string): string {
  const c = officialCheckpoint(name);
  const out = `${c.file.replace(/\.pth$/, "")}.safetensors`;
  const src = c.from.startsWith("http")
    ? `Meta's ${c.file} (${c.from})`
    : c.from === "torchvision" || c.from === "timm"
    ? `the ${c.from} pretrained weights`
    : c.from;
  return `Sinter downloads no weights: pass teacher_weights=${out}, a safetensors file with the ` +
    `state_dict of '${name}'. Make it once from ${src} with:\n` +
    `  python -c "import torch, safetensors.torch as st; sd = ${c.load}; ` +
    `st.save_file({k: v.contiguous() for k, v in sd.items()}, '${out}')"`;
}

/**
 * Checks the teacher arguments before anything is built: DINOv3 teachers (LightlyTrain's v3
 * default) do not exist here, `teacher_weights` is required, and `accept` (if given) limits the
 * teacher names (v1/v2 take DINOv2 ViTs only).
 */
export function checkTeacherArgs(
  method: string,
  args: TeacherArgs,
  accept?: { test: (name: string) => boolean; what: string },
): void {
  const name = args.teacher;
  if (typeof name !== "string" || name.length === 0) {
    throw new Error(`${method}: method_args.teacher must be a model name, got ${name}`);
  }
  if (name.startsWith("dinov3/")) {
    throw new Error(
      `${method}: teacher '${name}' is a DINOv3 model, and DINOv3 is not available in Sinter. ` +
        `Pass teacher=${SUGGESTED_TEACHER}` +
        (accept ? "" : " (or any Sinter model, see list_models)") +
        ` with its weights. ${weightsHint(SUGGESTED_TEACHER)}`,
    );
  }
  if (accept && !accept.test(name)) {
    throw new Error(
      `${method}: teacher '${name}' is not supported; ${method} takes ${accept.what}`,
    );
  }
  if (args.teacher_weights === null || args.teacher_weights === undefined) {
    throw new Error(`${method}: teacher '${name}' needs pretrained weights. ${weightsHint(name)}`);
  }
  if (typeof args.teacher_weights !== "string" || args.teacher_weights.length === 0) {
    throw new Error(
      `${method}: method_args.teacher_weights must be a file path, got ${
        JSON.stringify(args.teacher_weights)
      }`,
    );
  }
}

/** Puts a model in eval mode and stops gradients to its parameters. */
export function freeze(model: ModelWrapper): ModelWrapper {
  const m = model.getModel();
  m.eval();
  for (const [, t] of m.namedParameters()) t.requireGrad(false);
  return model;
}

/**
 * Loads the teacher with `ctx.loadModel(teacher, {weights: teacher_weights, args:
 * teacher_args})` and freezes it; a missing file or weights that do not fit say which file to
 * supply and how to convert it.
 */
export async function loadTeacher(
  ctx: Pick<MethodContext<unknown>, "loadModel">,
  method: string,
  args: TeacherArgs,
): Promise<ModelWrapper> {
  checkTeacherArgs(method, args);
  const weights = args.teacher_weights as string;
  try {
    if (!Deno.statSync(weights).isFile) throw new Deno.errors.NotFound();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${method}: teacher_weights file '${weights}' does not exist. ${weightsHint(args.teacher)}`,
      );
    }
    // Without read permission here, let loadModel report it.
  }
  let model: ModelWrapper;
  try {
    model = await ctx.loadModel(args.teacher, {
      weights,
      ...(args.teacher_args ? { args: args.teacher_args } : {}),
    });
  } catch (e) {
    const msg = (e as Error).message;
    const sizes = /shape of /.test(msg)
      ? `\nThe file's tensor sizes do not match teacher '${args.teacher}': the weights are for ` +
        `another architecture or size; pass the teacher= that matches the file.`
      : "";
    throw new Error(
      `${method}: cannot load teacher '${args.teacher}' from '${weights}': ${msg}${sizes}\n` +
        weightsHint(args.teacher),
      { cause: e },
    );
  }
  return freeze(model);
}
