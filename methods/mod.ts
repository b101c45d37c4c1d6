/**
 * The built-in methods, registered statically (so they work from JSR): importing this module
 * fills the method registry of core/plugin.ts.
 *
 * @module
 */
import { registerMethod } from "../core/plugin.ts";
import { plugin as simclr } from "./simclr/mod.ts";
import { plugin as distillation } from "./distillation/mod.ts";
import { plugin as distillationv2 } from "./distillationv2/mod.ts";
import { plugin as distillationv1 } from "./distillationv1/mod.ts";
import { plugin as dinov2 } from "./dinov2/mod.ts";
import { plugin as dino } from "./dino/mod.ts";

/** Built-in plugins in registration order. */
export const BUILTIN_METHODS = [
  simclr,
  distillation,
  distillationv2,
  distillationv1,
  dinov2,
  dino,
] as const;

for (const p of BUILTIN_METHODS) {
  registerMethod(p as unknown as Parameters<typeof registerMethod>[0], `builtin:${p.name}`, true);
}

export { getMethod, listMethods } from "../core/plugin.ts";
