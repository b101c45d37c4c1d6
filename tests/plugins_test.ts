/**
 * Third-party method plugins end to end with the example VICReg plugin
 * (`examples/plugins/vicreg/`): discovery by specifier and by scanning a plugins folder,
 * training with MethodRun, listing and removal, and broken plugins whose errors name the
 * plugin, the file and the field.
 */
import assert from "node:assert/strict";
import {
  getMethod,
  initDevice,
  listMethods,
  loadPlugin,
  type MethodPlugin,
  MethodRun,
  PluginError,
  Rng,
  scanPluginsFolder,
  tensor,
  tidy,
  unregisterMethod,
} from "../mod.ts";
import "../methods/mod.ts";
import { createModel } from "../models/mod.ts";

const ROOT_URL = new URL("../", import.meta.url);
const ROOT = decodeURIComponent(ROOT_URL.pathname);
const VICREG = `${ROOT}examples/plugins/vicreg`;

/**
 * Copies the example plugin into `dst` with its `../../../` imports of Sinter rewritten to
 * absolute file URLs, as a user's plugin folder outside the repository would import Sinter.
 */
async function copyPlugin(dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(VICREG)) {
    if (!e.isFile || e.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(`${VICREG}/${e.name}`);
    await Deno.writeTextFile(
      `${dst}/${e.name}`,
      text.replaceAll(`"../../../`, `"${ROOT_URL.href}`),
    );
  }
}

/** Trains `plugin` 3 steps on a tiny CNN; returns the losses. */
async function trainFew(plugin: MethodPlugin): Promise<number[]> {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = { ...plugin.defaults.methodArgs, hidden_dim: 16, output_dim: 16 };
  const inst = await plugin.create({
    model,
    args,
    datasetSize: 32,
    batchSize: 4,
    totalSteps: 3,
    rng: new Rng(2),
    loadModel: () => Promise.reject(new Error("no teacher")),
  });
  const run = new MethodRun(plugin, inst, {
    optimizer: "auto",
    batchSize: 4,
    totalSteps: 3,
    epochs: 1,
  });
  const w = model.getModel().namedParameters()[0][1];
  const w0 = await w.data();
  const rng = new Rng(4);
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const views = tidy(() =>
      [0, 1].map(() => tensor(rng.uniformArray(4 * 3 * 16 * 16), [4, 3, 16, 16]))
    );
    const r = run.trainStep({ views });
    for (const v of views) v.dispose();
    losses.push(await r.loss.item());
    for (const t of [r.loss, ...Object.values(r.metrics)]) t.dispose();
  }
  assert.ok((await w.data()).some((v, i) => v !== w0[i]), "backbone weights changed");
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  return losses;
}

const listed = (name: string) => listMethods().find((m) => m.name === name);

Deno.test("vicreg is found by specifier, trains, is listed, and unregisters", async () => {
  const p = await loadPlugin("examples/plugins/vicreg", ROOT);
  try {
    assert.equal(p.name, "vicreg");
    const entry = listed("vicreg");
    assert.ok(entry && !entry.builtin, "listed as a third-party method");
    assert.equal(entry.source, `${ROOT_URL.href}examples/plugins/vicreg/mod.ts`);
    assert.ok(listed("simclr")?.builtin && listed("distillation")?.builtin, "built-ins listed too");
    assert.equal(getMethod("vicreg"), p);
    await trainFew(getMethod("vicreg"));
  } finally {
    unregisterMethod("vicreg");
  }
  assert.equal(listed("vicreg"), undefined);
  assert.throws(() => getMethod("vicreg"), /unknown method 'vicreg'/);
});

Deno.test("vicreg is found by scanning a plugins folder and disappears when removed", async () => {
  const dir = await Deno.makeTempDir();
  const plugins = `${dir}/plugins`;
  try {
    await copyPlugin(`${plugins}/vicreg`);
    await Deno.mkdir(`${plugins}/empty`);
    const found = await scanPluginsFolder(plugins);
    assert.deepEqual(found.map((p) => p.name), ["vicreg"]);
    try {
      assert.equal(listed("vicreg")?.source, `file://${plugins}/vicreg/mod.ts`);
      await trainFew(getMethod("vicreg"));
    } finally {
      unregisterMethod("vicreg");
    }
    assert.equal(listed("vicreg"), undefined, "unregistered");

    // A fresh registry (a new instance of the core module) rescans the folder.
    type Core = typeof import("../core/plugin.ts");
    const fresh = async (n: number): Promise<Core> =>
      await import(new URL(`../core/plugin.ts?fresh=${n}`, import.meta.url).href);
    const before = await fresh(1);
    assert.deepEqual((await before.scanPluginsFolder(plugins)).map((p) => p.name), ["vicreg"]);
    assert.deepEqual(before.listMethods().map((m) => m.name), ["vicreg"]);
    await Deno.remove(`${plugins}/vicreg`, { recursive: true });
    const after = await fresh(2);
    assert.deepEqual(await after.scanPluginsFolder(plugins), []);
    assert.deepEqual(after.listMethods(), [], "gone once the folder is removed");
    assert.throws(() => after.getMethod("vicreg"), /unknown method 'vicreg'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("broken plugins fail naming the plugin, the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  const vicregUrl = `${ROOT_URL.href}examples/plugins/vicreg/mod.ts`;
  /** Writes `<dir>/<sub>/mod.ts` deriving a plugin from vicreg with `body`. */
  const write = async (sub: string, body: string) => {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/${sub}/mod.ts`,
      `import { plugin } from "${vicregUrl}";\n${body}\n`,
    );
    return `file://${dir}/${sub}/mod.ts`;
  };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const rejects = async (spec: string, file: string, name: string, re: RegExp) => {
    await assert.rejects(() => loadPlugin(spec, dir), (e: Error) => {
      assert.ok(e instanceof PluginError, `PluginError, got ${e}`);
      assert.match(e.message, new RegExp(`method plugin '${esc(name)}' \\(${esc(file)}\\)`));
      assert.match(e.message, re);
      return true;
    });
    assert.equal(listed(name)?.builtin ?? false, name === "simclr", `${name} not registered`);
  };
  try {
    await initDevice();
    let f = await write(
      "nodesc",
      `const { description: _d, ...rest } = plugin;\nexport default { ...rest, name: "vicreg_nodesc" };`,
    );
    await rejects(
      "./nodesc",
      f,
      "vicreg_nodesc",
      /field 'description' must be a non-empty string, missing/,
    );
    f = await write(
      "noopt",
      `export default { ...plugin, name: "vicreg_noopt", defaults: { ...plugin.defaults, optimizer: undefined } };`,
    );
    await rejects(
      "./noopt",
      f,
      "vicreg_noopt",
      /field 'defaults\.optimizer' must be "adamw", "sgd" or "lars", missing/,
    );
    f = await write("apiv", `export default { ...plugin, name: "vicreg_apiv", apiVersion: 2 };`);
    await rejects(
      "./apiv",
      f,
      "vicreg_apiv",
      /apiVersion 2 is not supported; this Sinter implements apiVersion 1/,
    );
    f = await write("clash", `export default { ...plugin, name: "simclr" };`);
    await rejects("./clash", f, "simclr", /the name 'simclr' is already used by a built-in method/);
    f = await write(
      "aliasclash",
      `export default { ...plugin, name: "vicreg_alias", aliases: ["distillationv3"] };`,
    );
    await rejects(
      "./aliasclash",
      f,
      "vicreg_alias",
      /the name 'distillationv3' is already used by a built-in method/,
    );
    f = await write(
      "wgsl",
      `export default { ...plugin, name: "vicreg_wgsl", kernels: { "vicreg_var.wgsl": ` +
        `"@compute @workgroup_size(1)\\nfn main() {\\n  let x: f32 = 1u;\\n}" } };`,
    );
    await rejects(
      "./wgsl",
      f,
      "vicreg_wgsl",
      /WGSL kernel 'vicreg_var\.wgsl' does not compile: line 3:/,
    );
    await Deno.mkdir(`${dir}/noexport`);
    await Deno.writeTextFile(`${dir}/noexport/mod.ts`, `export const x = 1;\n`);
    await assert.rejects(
      () => loadPlugin("./noexport", dir),
      /method plugin from file:\/\/.*\/noexport\/mod\.ts: the module must export a plugin object as 'default' or 'plugin'/,
    );
    // A plugins folder holding a broken plugin names the file too.
    await copyPlugin(`${dir}/scan/ok`);
    await Deno.mkdir(`${dir}/scan/zbroken`);
    await Deno.copyFile(`${dir}/apiv/mod.ts`, `${dir}/scan/zbroken/mod.ts`);
    try {
      await assert.rejects(
        () => scanPluginsFolder(`${dir}/scan`),
        new RegExp(
          `method plugin 'vicreg_apiv' \\(${
            esc(`file://${dir}/scan/zbroken/mod.ts`)
          }\\): apiVersion 2`,
        ),
      );
    } finally {
      unregisterMethod("vicreg");
    }
    assert.ok(!listMethods().some((m) => m.name.startsWith("vicreg")), "nothing left registered");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
