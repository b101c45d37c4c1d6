import assert from "node:assert/strict";
import {
  getMethod,
  listMethods,
  loadPlugin,
  METHOD_API_VERSION,
  PluginError,
  registerMethod,
  resolvePluginSpecifier,
  scanPluginsFolder,
  unregisterMethod,
  validatePlugin,
} from "./plugin.ts";
import "../methods/mod.ts";
import { plugin as simclr } from "../methods/simclr/mod.ts";

function minimal(name: string, extra = "") {
  return `export default {
  apiVersion: ${METHOD_API_VERSION}, name: "${name}", description: "test method",
  defaults: { methodArgs: {}, optimizer: "sgd", optimizerArgs: { sgd: { lr: 0.1 } }, epochs: 1,
    lrScaleMethod: "none", referenceBatchSize: 256, gradientClip: null, warmup: "epochs" },
  transforms: {}, create() { throw new Error("not for training"); }, ${extra}
};\n`;
}

Deno.test("validatePlugin names the plugin, the source and the field", () => {
  const bad = { ...simclr, name: "x", defaults: { ...simclr.defaults, referenceBatchSize: -1 } };
  assert.throws(
    () => validatePlugin(bad, "my/file.ts"),
    /method plugin 'x' \(my\/file\.ts\): field 'defaults\.referenceBatchSize' must be a positive number/,
  );
  const { create: _c, ...noCreate } = simclr;
  assert.throws(
    () => validatePlugin({ ...noCreate, name: "y" }, "f.ts"),
    /'y' \(f\.ts\): field 'create' must be a function, missing/,
  );
  assert.throws(
    () => validatePlugin({ ...simclr, apiVersion: 99 }, "f.ts"),
    /apiVersion 99 is not supported/,
  );
  assert.throws(() => validatePlugin(42, "f.ts"), /must export a plugin object/);
});

Deno.test("built-ins are listed; unknown names and clashes are errors", () => {
  assert.ok(listMethods().some((m) => m.name === "simclr" && m.builtin));
  assert.throws(() => getMethod("simclrr"), /unknown method 'simclrr'\. Known methods: .*simclr/);
  assert.throws(
    () => registerMethod({ ...simclr }, "other.ts"),
    (e: Error) => e instanceof PluginError && /already used by a built-in method/.test(e.message),
  );
});

Deno.test("plugins load from a path relative to the working directory and from a folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/plugins/alpha`, { recursive: true });
    await Deno.writeTextFile(`${dir}/plugins/alpha/mod.ts`, minimal("alpha"));
    await Deno.mkdir(`${dir}/plugins/notaplugin`);
    await Deno.mkdir(`${dir}/beta`);
    await Deno.writeTextFile(`${dir}/beta/mod.ts`, minimal("beta"));
    assert.equal(resolvePluginSpecifier("./beta", dir), `file://${dir}/beta/mod.ts`);
    assert.throws(() => resolvePluginSpecifier("./nope", dir), /no such file or folder/);
    await loadPlugin("./beta", dir);
    const found = await scanPluginsFolder(`${dir}/plugins`);
    assert.deepEqual(found.map((p) => p.name), ["alpha"]);
    assert.ok(listMethods().some((m) => m.name === "alpha" && !m.builtin));
    assert.equal(getMethod("beta").description, "test method");
    unregisterMethod("alpha");
    unregisterMethod("beta");
    assert.ok(!listMethods().some((m) => m.name === "alpha" || m.name === "beta"));
    assert.deepEqual(await scanPluginsFolder(`${dir}/missing`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plugin whose WGSL does not compile is rejected with file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/mod.ts`,
      minimal("gamma", `kernels: { "loss.wgsl": "fn f() -> f32 { return 1u; }" },`),
    );
    await assert.rejects(
      () => loadPlugin(`${dir}/mod.ts`),
      /method plugin 'gamma' .*WGSL kernel 'loss\.wgsl' does not compile: line 1/,
    );
    assert.throws(() => getMethod("gamma"), /unknown method/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
