/**
 * GPU augmentations: deterministic ops with torchvision semantics, the random per-view
 * pipeline (multi-crop views, seeded parameters drawn on the host, at most four fused
 * dispatches per group of same-size views), and the method transform arguments with strict
 * validation and overrides.
 *
 * Typical use:
 * ```ts
 * const specs = viewSpecs(overrideTransforms(builtinTransforms("dino"), { "local_view.num_views": 4 }));
 * const pipeline = new ViewPipeline(specs);
 * const batch = uploadU8Batch(bytes, [B, H, W, 3]);
 * const { out: views } = pipeline.run(batch, rng); // one [B, 3, h, w] tensor per view
 * ```
 *
 * @module
 */
export * from "./batch.ts";
export * from "./plan.ts";
export * from "./ops.ts";
export * from "./kernels.ts";
export * from "./sample.ts";
export * from "./views.ts";
export * from "./config.ts";
export * from "./defaults.ts";
export { parseYaml, toYaml } from "./yaml.ts";
