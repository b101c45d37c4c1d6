// Method transform defaults (spec section 3.1), overrides, strict validation and resolution.
import assert from "node:assert/strict";
import {
  ConfigError,
  overrideTransforms,
  parseMethodTransforms,
  resolveTransformArgs,
  viewSpecs,
} from "./config.ts";
import { builtinTransforms } from "./defaults.ts";
import { toYaml } from "./yaml.ts";

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

Deno.test("config defaults: the four methods match spec section 3.1", () => {
  const table = {
    distillation: { views: 1, scale: [0.14, 1], s: 0.5, sat: 0.4, blur: [1, 0, 0.1] },
    simclr: { views: 2, scale: [0.08, 1], s: 1, sat: 0.8, blur: [0.5, 0.1, 2] },
    dino: { views: 8, scale: [0.14, 1], s: 0.5, sat: 0.4, blur: [1, 0.1, 2] },
    dinov2: { views: 10, scale: [0.32, 1], s: 0.5, sat: 0.4, blur: [1, 0.1, 2] },
  };
  for (const [name, t] of Object.entries(table)) {
    const m = builtinTransforms(name);
    const a = m.transform_args;
    assert.deepEqual(a.image_size, [224, 224], name);
    assert.deepEqual([a.random_resize?.min_scale, a.random_resize?.max_scale], t.scale, name);
    assert.deepEqual(a.random_flip, { horizontal_prob: 0.5, vertical_prob: 0 }, name);
    assert.equal(a.random_rotation, null);
    assert.deepEqual(a.color_jitter, {
      prob: 0.8,
      strength: t.s,
      brightness: 0.8,
      contrast: 0.8,
      saturation: t.sat,
      hue: 0.2,
      single_channel: false, // the Sinter extension, off: LightlyTrain's behaviour
    });
    assert.equal(a.random_gray_scale, 0.2);
    assert.deepEqual(a.normalize, IMAGENET);
    assert.deepEqual(a.gaussian_blur, { prob: t.blur[0], sigmas: t.blur.slice(1), blur_limit: 0 });
    assert.equal(a.solarize, null);
    assert.equal(a.channel_drop, null);
    assert.equal(a.num_channels, "auto");
    const specs = viewSpecs(m);
    assert.equal(specs.length, t.views, name);
    const j = specs[0].jitter!;
    assert.deepEqual(
      [j.brightness, j.contrast, j.saturation, j.hue].map((v) => +v.toFixed(6)),
      [0.8 * t.s, 0.8 * t.s, t.sat * t.s, 0.2 * t.s].map((v) => +v.toFixed(6)),
    );
  }
  // Multi-crop layouts.
  const dino = viewSpecs(builtinTransforms("dino"));
  assert.deepEqual(dino.map((s) => s.size[0]), [224, 224, 96, 96, 96, 96, 96, 96]);
  assert.deepEqual(dino[0].blur?.prob, 1);
  assert.equal(dino[0].solarize, null);
  assert.deepEqual([dino[1].blur?.prob, dino[1].solarize], [0.1, { prob: 0.2, threshold: 0.5 }]);
  assert.deepEqual([dino[2].crop?.scale, dino[2].blur?.prob, dino[2].solarize], [
    [0.05, 0.14],
    0.5,
    null,
  ]);
  const v2 = viewSpecs(builtinTransforms("dinov2"));
  assert.deepEqual(
    v2.slice(2).map((s) => [s.size, s.crop?.scale]),
    new Array(8).fill([[98, 98], [0.05, 0.32]]),
  );
  assert.deepEqual(v2[0].crop?.scale, [0.32, 1]);
  // v1/v2/v3 distillation share the defaults.
  assert.deepEqual(builtinTransforms("distillationv2"), builtinTransforms("distillation"));
  assert.throws(() => builtinTransforms("simclrr"), /did you mean 'simclr'/);
});

Deno.test("config overrides: dotted keys, nested maps, CLI strings, null disables", () => {
  const m = builtinTransforms("simclr");
  const o = overrideTransforms(m, {
    "transform_args.random_resize.min_scale": "0.2",
    "image_size": "[448, 320]",
    "transform_args.gaussian_blur": "null",
    "color_jitter": { strength: 0.5 },
  });
  const a = o.transform_args;
  assert.deepEqual(a.random_resize, { min_scale: 0.2, max_scale: 1 });
  assert.deepEqual(a.image_size, [448, 320]);
  assert.equal(a.gaussian_blur, null);
  assert.equal(a.color_jitter?.strength, 0.5);
  assert.equal(a.color_jitter?.saturation, 0.8);
  const specs = viewSpecs(o);
  assert.equal(specs[0].blur, null);
  assert.deepEqual(specs[1].size, [448, 320]);
  // The input is not modified.
  assert.equal(m.transform_args.random_resize?.min_scale, 0.08);
  // random_resize=null: a plain resize.
  assert.equal(viewSpecs(overrideTransforms(m, { random_resize: null }))[0].crop, null);
  // DINO: fewer local views, or none.
  const d = builtinTransforms("dino");
  assert.equal(viewSpecs(overrideTransforms(d, { "local_view.num_views": 4 })).length, 6);
  assert.equal(viewSpecs(overrideTransforms(d, { local_view: null })).length, 2);
  assert.equal(
    viewSpecs(overrideTransforms(d, { "global_view_1.solarize.threshold": 0.7 }))[1].solarize
      ?.threshold,
    0.7,
  );
  // A whole nested map, like LightlyTrain's Python dict.
  const n = overrideTransforms(d, {
    transform_args: { random_resize: { min_scale: 0.2 }, gaussian_blur: null },
  });
  assert.deepEqual([n.transform_args.random_resize?.min_scale, n.transform_args.gaussian_blur], [
    0.2,
    null,
  ]);
});

Deno.test("config: switching a disabled section on uses its defaults and needs its required keys", () => {
  const m = builtinTransforms("simclr");
  assert.throws(
    () => overrideTransforms(m, { "random_rotation.prob": 0.5 }),
    /transform_args\.random_rotation\.degrees: missing required key/,
  );
  const r = overrideTransforms(m, { "random_rotation.prob": 0.5, "random_rotation.degrees": 30 });
  assert.deepEqual(r.transform_args.random_rotation, {
    prob: 0.5,
    degrees: 30,
    interpolation: "bilinear",
  });
  assert.deepEqual(viewSpecs(r)[0].rotation, { prob: 0.5, degrees: 30 });
  const s = overrideTransforms(m, { solarize: { prob: 0.2, threshold: 0.5 } });
  assert.deepEqual(viewSpecs(s)[0].solarize, { prob: 0.2, threshold: 0.5 });
  const f = overrideTransforms(overrideTransforms(m, { random_flip: null }), {
    "random_flip.vertical_prob": 0.3,
  });
  assert.deepEqual(f.transform_args.random_flip, { horizontal_prob: 0.5, vertical_prob: 0.3 });
});

Deno.test("config errors: unknown keys name the nearest valid key; bad values name the path", () => {
  const m = builtinTransforms("dino");
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { "random_resize.min_scal": 0.2 },
      /random_resize\.min_scal: unknown key; did you mean 'min_scale'/,
    ],
    [{ "transform_args.random_resise.min_scale": 0.2 }, /did you mean 'random_resize'/],
    [{ gausian_blur: null }, /did you mean 'gaussian_blur'/],
    [{ "local_view.num_view": 2 }, /local_view\.num_view: unknown key; did you mean 'num_views'/],
    [
      { "random_flip.horizontal_prob": 1.5 },
      /random_flip\.horizontal_prob: expected a number <= 1/,
    ],
    [{ "color_jitter.hue": 0.7 }, /color_jitter\.hue/],
    [{ "random_resize.min_scale": 0 }, /0 < min_scale <= max_scale/],
    [{ "image_size": "[224]" }, /image_size: expected a size/],
    [{ normalize: null }, /normalize: may not be null/],
    [{ "image_size.height": 3 }, /image_size: is a value, not a section/],
    [{ "num_channels": 0 }, /num_channels: expected "auto"/],
    [{ "gaussian_blur.sigmas": [2, 1] }, /lo <= hi/],
  ];
  for (const [o, re] of cases) {
    assert.throws(
      () => overrideTransforms(m, o),
      (e: Error) => e instanceof ConfigError && re.test(e.message),
      `${JSON.stringify(o)}`,
    );
  }
  // Keys of other layouts are unknown: SimCLR has no local_view.
  assert.throws(
    () => overrideTransforms(builtinTransforms("simclr"), { "local_view.num_views": 2 }),
    /unknown key/,
  );
});

Deno.test("config yaml: strict (every key, no extras), round trip", () => {
  const m = builtinTransforms("distillation");
  const text = toYaml(m);
  assert.deepEqual(parseMethodTransforms(text), m);
  assert.throws(
    () => parseMethodTransforms(text.replace("views: single", "views: triple")),
    /views/,
  );
  assert.throws(() => parseMethodTransforms(text + "extra: 1\n"), /unknown key; did you mean/);
  assert.throws(
    () => parseMethodTransforms(text.replace(/ {2}solarize: null\n/, "")),
    /transform_args\.solarize: missing required key/,
  );
});

Deno.test("config resolution: num_channels, mean/std cycling, RGB-only ops off", () => {
  const m = builtinTransforms("dino");
  assert.equal(resolveTransformArgs(m.transform_args).num_channels, 3);
  const four = resolveTransformArgs(overrideTransforms(m, { num_channels: 4 }).transform_args);
  assert.deepEqual(four.normalize.mean, [0.485, 0.456, 0.406, 0.485]);
  assert.deepEqual(four.normalize.std, [0.229, 0.224, 0.225, 0.229]);
  assert.equal(four.color_jitter, null);
  assert.equal(four.random_gray_scale, null);
  assert.equal(four.global_view_1?.solarize, null);
  const drop = overrideTransforms(m, {
    channel_drop: { num_channels_keep: 2, weight_drop: [1, 1, 0, 1] },
  });
  const specs = viewSpecs(drop);
  assert.equal(specs[0].normalize.mean.length, 2);
  assert.deepEqual(specs[0].channelDrop, { keep: 2, weights: [1, 1, 0, 1] });
  assert.equal(specs[0].jitter, null);
  assert.throws(
    () => overrideTransforms(m, { channel_drop: { num_channels_keep: 1, weight_drop: [0, 0, 1] } }),
    /at most num_channels_keep/,
  );
});
