/**
 * Method transform arguments (LightlyTrain's `transform_args`, spec section 3): the schema,
 * the per-method defaults read from each method's `transforms.yaml`, strict validation,
 * overrides with nested or dotted keys (`random_resize.min_scale=0.2`,
 * `transform_args.gaussian_blur=null` disables), the resolution rules (`num_channels`,
 * mean/std cycling, ops that need RGB) and the view specs each method builds from them.
 *
 * A `transforms.yaml` has two keys: `views` (`single`: one view, distillation; `pair`: two
 * identical views, SimCLR; `multicrop`: two global views plus `local_view.num_views` local ones,
 * DINO/DINOv2, with `global_view_1` overriding blur and solarize of the second global view) and
 * `transform_args`, which must list every key.
 *
 * @module
 */
import { parseYaml } from "./yaml.ts";
import {
  ConfigError,
  type Field,
  isMap,
  sectionTemplate,
  unknownKey,
  validate,
} from "../core/schema.ts";
import { DEFAULT_RATIO, type ViewSpec } from "./sample.ts";

export { ConfigError } from "../core/schema.ts";

/** Random resized crop scale range. */
export interface RandomResizeArgs {
  /** Smallest crop area fraction. */
  min_scale: number;
  /** Largest crop area fraction. */
  max_scale: number;
}

/** Gaussian blur arguments. */
export interface GaussianBlurArgs {
  /** Probability. */
  prob: number;
  /** Sigma range. */
  sigmas: [number, number];
  /** Kernel size (range); 0 computes it from sigma (`round(6 sigma + 1) | 1`). */
  blur_limit: number | [number, number];
}

/** Solarize arguments. */
export interface SolarizeArgs {
  /** Probability. */
  prob: number;
  /** Threshold in [0, 1]. */
  threshold: number;
}

/** LightlyTrain's `MethodTransformArgs` (plus DINO's multi-crop keys). */
export interface TransformArgs {
  /** View size `[h, w]`. */
  image_size: [number, number];
  /** Random channel drop (multi-channel images), or null. */
  channel_drop: { num_channels_keep: number; weight_drop: number[] } | null;
  /** Channels of the views; "auto": `channel_drop.num_channels_keep`, else `len(normalize.mean)`. */
  num_channels: number | "auto";
  /** Crop scale range; null: resize the whole image. */
  random_resize: RandomResizeArgs | null;
  /** Flip probabilities. */
  random_flip: { horizontal_prob: number; vertical_prob: number } | null;
  /** Random rotation. `interpolation` is accepted for compatibility; both use our filter. */
  random_rotation: { prob: number; degrees: number; interpolation: string } | null;
  /** Colour jitter: each strength is multiplied by `strength`. */
  color_jitter: {
    prob: number;
    strength: number;
    brightness: number;
    contrast: number;
    saturation: number;
    hue: number;
    /**
     * Sinter extension: keep brightness and contrast jitter on 1-channel views (LightlyTrain
     * switches colour jitter off unless the view has 3 channels); saturation and hue must be 0.
     */
    single_channel?: boolean;
  } | null;
  /** Grayscale probability. */
  random_gray_scale: number | null;
  /** Per-channel mean and std (cycled to `num_channels`). */
  normalize: { mean: number[]; std: number[] };
  /** Gaussian blur. */
  gaussian_blur: GaussianBlurArgs | null;
  /** Solarize. */
  solarize: SolarizeArgs | null;
  /** Multi-crop only: blur and solarize of the second global view. */
  global_view_1?: { gaussian_blur: GaussianBlurArgs | null; solarize: SolarizeArgs | null };
  /** Multi-crop only: the local views, or null for none. */
  local_view?: {
    num_views: number;
    view_size: [number, number];
    random_resize: RandomResizeArgs | null;
    gaussian_blur: GaussianBlurArgs | null;
  } | null;
}

/** How a method builds its views from the arguments. */
export type ViewsLayout = "single" | "pair" | "multicrop";

/** A method's transform configuration. */
export interface MethodTransforms {
  /** View layout. */
  views: ViewsLayout;
  /** Arguments (validated). */
  transform_args: TransformArgs;
}

const prob = { kind: "number", min: 0, max: 1 } as const;
const randomResize: Field = {
  kind: "section",
  nullable: true,
  fields: {
    min_scale: { kind: "number", min: 0, max: 1, default: 0.08 },
    max_scale: { kind: "number", min: 0, max: 1, default: 1.0 },
  },
};
const gaussianBlur: Field = {
  kind: "section",
  nullable: true,
  fields: {
    prob,
    sigmas: { kind: "range", min: 0 },
    blur_limit: { kind: "intOrRange", default: 0 },
  },
};
const solarize: Field = {
  kind: "section",
  nullable: true,
  fields: { prob, threshold: { kind: "number", min: 0, max: 1 } },
};

const COMMON: Record<string, Field> = {
  image_size: { kind: "size" },
  channel_drop: {
    kind: "section",
    nullable: true,
    fields: {
      num_channels_keep: { kind: "int", min: 1 },
      weight_drop: { kind: "list" },
    },
  },
  num_channels: { kind: "intOrAuto", default: "auto" },
  random_resize: randomResize,
  random_flip: {
    kind: "section",
    nullable: true,
    fields: {
      horizontal_prob: { ...prob, default: 0.5 },
      vertical_prob: { ...prob, default: 0.0 },
    },
  },
  random_rotation: {
    kind: "section",
    nullable: true,
    fields: {
      prob,
      degrees: { kind: "number", min: 0, max: 180 },
      interpolation: { kind: "enum", values: ["bilinear", "area"], default: "bilinear" },
    },
  },
  color_jitter: {
    kind: "section",
    nullable: true,
    fields: {
      prob,
      strength: { kind: "number", min: 0 },
      brightness: { kind: "number", min: 0 },
      contrast: { kind: "number", min: 0 },
      saturation: { kind: "number", min: 0 },
      hue: { kind: "number", min: 0, max: 0.5 },
      single_channel: { kind: "bool", default: false, optional: true },
    },
  },
  random_gray_scale: { ...prob, nullable: true },
  normalize: {
    kind: "section",
    fields: {
      mean: { kind: "list", default: [0.485, 0.456, 0.406] },
      std: { kind: "list", positive: true, default: [0.229, 0.224, 0.225] },
    },
  },
  gaussian_blur: gaussianBlur,
  solarize,
};

const MULTICROP: Record<string, Field> = {
  ...COMMON,
  global_view_1: {
    kind: "section",
    fields: { gaussian_blur: gaussianBlur, solarize },
  },
  local_view: {
    kind: "section",
    nullable: true,
    fields: {
      num_views: { kind: "int", min: 0 },
      view_size: { kind: "size" },
      random_resize: randomResize,
      gaussian_blur: gaussianBlur,
    },
  },
};

/** The schema of `transform_args` for a view layout. */
export function argsSchema(views: ViewsLayout): Field & { kind: "section" } {
  return { kind: "section", fields: views === "multicrop" ? MULTICROP : COMMON };
}

const LAYOUTS: readonly ViewsLayout[] = ["single", "pair", "multicrop"];

function checkArgs(args: TransformArgs, path: string): void {
  const ranges: [string, RandomResizeArgs | null | undefined][] = [
    ["random_resize", args.random_resize],
    ["local_view.random_resize", args.local_view?.random_resize],
  ];
  for (const [k, r] of ranges) {
    if (r && !(r.min_scale > 0 && r.min_scale <= r.max_scale)) {
      throw new ConfigError(
        `${path}.${k}: need 0 < min_scale <= max_scale, got ${r.min_scale}, ${r.max_scale}`,
      );
    }
  }
  const j = args.color_jitter;
  if (j && j.hue * j.strength > 0.5) {
    throw new ConfigError(`${path}.color_jitter: hue * strength = ${j.hue * j.strength} > 0.5`);
  }
  const cd = args.channel_drop;
  if (cd) {
    const zeros = cd.weight_drop.filter((w) => w === 0).length;
    if (cd.weight_drop.some((w) => w < 0) || zeros > cd.num_channels_keep) {
      throw new ConfigError(
        `${path}.channel_drop.weight_drop: weights must be >= 0 and at most ` +
          `num_channels_keep (${cd.num_channels_keep}) of them 0, got ${
            JSON.stringify(cd.weight_drop)
          }`,
      );
    }
    if (cd.num_channels_keep > cd.weight_drop.length) {
      throw new ConfigError(
        `${path}.channel_drop.num_channels_keep: ${cd.num_channels_keep} > ` +
          `${cd.weight_drop.length} channels in weight_drop`,
      );
    }
  }
}

/** Validates a whole method configuration (every key must be present). */
export function validateMethodTransforms(v: unknown, source = "transforms.yaml"): MethodTransforms {
  if (!isMap(v)) throw new ConfigError(`${source}: expected a map with views and transform_args`);
  for (const k of Object.keys(v)) {
    if (k !== "views" && k !== "transform_args") unknownKey(source, k, ["views", "transform_args"]);
  }
  const views = v.views as ViewsLayout;
  if (!LAYOUTS.includes(views)) {
    throw new ConfigError(`${source}.views: expected ${LAYOUTS.join(" | ")}, got ${v.views}`);
  }
  const path = "transform_args";
  const args = validate(path, argsSchema(views), v.transform_args) as TransformArgs;
  checkArgs(args, path);
  return { views, transform_args: args };
}

/** Parses and validates a method's `transforms.yaml`. */
export function parseMethodTransforms(text: string, source = "transforms.yaml"): MethodTransforms {
  return validateMethodTransforms(parseYaml(text, source), source);
}

function coerce(f: Field, v: unknown): unknown {
  // CLI values arrive as strings: parse them as YAML unless the field wants a string.
  if (typeof v !== "string") return v;
  if (f.kind === "enum") return v;
  if (f.kind === "intOrAuto" && v === "auto") return v;
  return parseYaml(v, "override value");
}

function assign(
  target: Record<string, unknown>,
  section: Field & { kind: "section" },
  parts: string[],
  value: unknown,
  path: string,
): void {
  const [key, ...rest] = parts;
  const f = section.fields[key];
  if (!f) unknownKey(path, key, Object.keys(section.fields));
  const here = `${path}.${key}`;
  if (rest.length) {
    if (f.kind !== "section") throw new ConfigError(`${here}: is a value, not a section`);
    if (!isMap(target[key])) target[key] = sectionTemplate(f);
    assign(target[key] as Record<string, unknown>, f, rest, value, here);
    return;
  }
  const v = coerce(f, value);
  if (f.kind === "section" && isMap(v)) {
    if (!isMap(target[key])) target[key] = sectionTemplate(f);
    for (const [k, sub] of Object.entries(v)) {
      assign(target[key] as Record<string, unknown>, f, [k], sub, here);
    }
    return;
  }
  target[key] = v;
}

/**
 * Applies overrides to a method's arguments and validates the result. Keys may be dotted
 * (`"random_resize.min_scale"`, optionally prefixed `transform_args.`) or nested maps; `null`
 * disables a section; setting a key of a disabled section switches it on with LightlyTrain's
 * defaults for that section (its required keys must then be given). String values (from the
 * command line) are parsed as YAML (`"[448, 448]"`, `"null"`, `"0.2"`).
 */
export function overrideTransforms(
  m: MethodTransforms,
  overrides: Record<string, unknown>,
): MethodTransforms {
  const args = structuredClone(m.transform_args) as unknown as Record<string, unknown>;
  const schema = argsSchema(m.views);
  for (const [k, v] of Object.entries(overrides)) {
    const parts = k.split(".");
    if (parts[0] === "transform_args") parts.shift();
    if (!parts.length) {
      if (!isMap(v)) throw new ConfigError(`transform_args: expected a map of overrides`);
      for (const [kk, vv] of Object.entries(v)) assign(args, schema, [kk], vv, "transform_args");
      continue;
    }
    assign(args, schema, parts, v, "transform_args");
  }
  return validateMethodTransforms({ views: m.views, transform_args: args }, "overrides");
}

/**
 * LightlyTrain's resolution: `num_channels="auto"` becomes `channel_drop.num_channels_keep`
 * or `len(normalize.mean)`, mean and std are cycled to `num_channels`, and colour jitter,
 * grayscale and solarize (also the second global view's) are switched off unless it is 3
 * (colour jitter stays on 1-channel views with `color_jitter.single_channel`).
 */
export function resolveTransformArgs(
  args: TransformArgs,
): TransformArgs & { num_channels: number } {
  const a = structuredClone(args);
  const n = a.num_channels === "auto"
    ? a.channel_drop?.num_channels_keep ?? a.normalize.mean.length
    : a.num_channels;
  const cycle = (v: number[]) => Array.from({ length: n }, (_, i) => v[i % v.length]);
  a.normalize = { mean: cycle(a.normalize.mean), std: cycle(a.normalize.std) };
  if (n !== 3) {
    const j = a.color_jitter;
    const keep = n === 1 && j?.single_channel === true;
    if (keep && j.strength * (j.saturation + j.hue) > 0) {
      throw new ConfigError(
        "transform_args.color_jitter.single_channel: saturation and hue need RGB; set them to 0",
      );
    }
    if (!keep) a.color_jitter = null;
    a.random_gray_scale = null;
    a.solarize = null;
    if (a.global_view_1) a.global_view_1 = { ...a.global_view_1, solarize: null };
  }
  return { ...a, num_channels: n };
}

function blurSpec(b: GaussianBlurArgs | null): ViewSpec["blur"] {
  if (!b) return null;
  const lim = typeof b.blur_limit === "number" ? [0, b.blur_limit] : b.blur_limit;
  return { prob: b.prob, sigmas: [...b.sigmas], blurLimit: [lim[0], lim[1]] };
}

function baseSpec(a: TransformArgs, name: string): ViewSpec {
  const j = a.color_jitter;
  return {
    name,
    size: [...a.image_size],
    crop: a.random_resize
      ? { scale: [a.random_resize.min_scale, a.random_resize.max_scale], ratio: [...DEFAULT_RATIO] }
      : null,
    hflipProb: a.random_flip?.horizontal_prob ?? 0,
    vflipProb: a.random_flip?.vertical_prob ?? 0,
    rotation: a.random_rotation
      ? { prob: a.random_rotation.prob, degrees: a.random_rotation.degrees }
      : null,
    jitter: j
      ? {
        prob: j.prob,
        brightness: j.strength * j.brightness,
        contrast: j.strength * j.contrast,
        saturation: j.strength * j.saturation,
        hue: j.strength * j.hue,
      }
      : null,
    grayProb: a.random_gray_scale ?? 0,
    blur: blurSpec(a.gaussian_blur),
    solarize: a.solarize ? { ...a.solarize } : null,
    normalize: { mean: [...a.normalize.mean], std: [...a.normalize.std] },
    channelDrop: a.channel_drop
      ? { keep: a.channel_drop.num_channels_keep, weights: [...a.channel_drop.weight_drop] }
      : null,
  };
}

/** The views a method builds from its (validated) configuration, after resolution. */
export function viewSpecs(m: MethodTransforms): ViewSpec[] {
  const a = resolveTransformArgs(m.transform_args);
  if (m.views === "single") return [baseSpec(a, "view_0")];
  if (m.views === "pair") return [baseSpec(a, "view_0"), baseSpec(a, "view_1")];
  const g0 = baseSpec(a, "global_0");
  const g1 = baseSpec(a, "global_1");
  const gv1 = a.global_view_1!;
  g1.blur = blurSpec(gv1.gaussian_blur);
  g1.solarize = gv1.solarize ? { ...gv1.solarize } : null;
  const out = [g0, g1];
  const lv = a.local_view;
  if (lv) {
    for (let i = 0; i < lv.num_views; i++) {
      const s = baseSpec(a, `local_${i}`);
      s.size = [...lv.view_size];
      s.crop = lv.random_resize
        ? {
          scale: [lv.random_resize.min_scale, lv.random_resize.max_scale],
          ratio: [...DEFAULT_RATIO],
        }
        : null;
      s.blur = blurSpec(lv.gaussian_blur);
      out.push(s);
    }
  }
  return out;
}
