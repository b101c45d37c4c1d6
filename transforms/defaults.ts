/**
 * The built-in methods' transform defaults, read from their `methods/<name>/transforms.yaml`
 * (text imports: no file permission needed, works from a checkout and from JSR).
 *
 * @module
 */
import distillation from "../methods/distillation/transforms.yaml" with { type: "text" };
import simclr from "../methods/simclr/transforms.yaml" with { type: "text" };
import dino from "../methods/dino/transforms.yaml" with { type: "text" };
import dinov2 from "../methods/dinov2/transforms.yaml" with { type: "text" };
import { ConfigError, type MethodTransforms, parseMethodTransforms } from "./config.ts";
import { nearestKey } from "../core/schema.ts";

const TEXTS: Record<string, string> = { distillation, simclr, dino, dinov2 };
/** Method names that share another method's transform defaults. */
const ALIASES: Record<string, string> = {
  distillationv1: "distillation",
  distillationv2: "distillation",
  distillationv3: "distillation",
};

/** Names of the built-in methods with transform defaults. */
export const BUILTIN_TRANSFORM_METHODS: readonly string[] = [
  ...Object.keys(TEXTS),
  ...Object.keys(ALIASES),
];

/** The parsed, validated transform defaults of a built-in method. */
export function builtinTransforms(method: string): MethodTransforms {
  const name = ALIASES[method] ?? method;
  const text = TEXTS[name];
  if (text === undefined) {
    throw new ConfigError(
      `method '${method}' has no built-in transforms; did you mean ` +
        `'${nearestKey(method, BUILTIN_TRANSFORM_METHODS)}'?`,
    );
  }
  return parseMethodTransforms(text, `methods/${name}/transforms.yaml`);
}
