import assert from "node:assert/strict";
import { GpuError, initDevice, sync } from "./mod.ts";
import { kernel } from "../kernels/mod.ts";

Deno.test("device is requested with the adapter's own limits", async () => {
  const dev = await initDevice();
  assert.equal(
    dev.gpu.limits.maxStorageBufferBindingSize,
    dev.report.limits.maxStorageBufferBindingSize,
  );
  assert.ok(dev.gpu.limits.maxStorageBuffersPerShaderStage >= 8);
  assert.equal(dev.report.f16, dev.gpu.features.has("shader-f16"));
});

Deno.test("a kernel that fails to compile is reported with its name", async () => {
  await initDevice();
  kernel({
    name: "broken_kernel",
    code: "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }",
  });
  await assert.rejects(() => sync(), (e: Error) => {
    assert.ok(e instanceof GpuError);
    assert.match(e.message, /broken_kernel/);
    return true;
  });
});

Deno.test("a tensor over the storage binding limit is refused with op, shape and limit", async () => {
  const dev = await initDevice();
  const { empty } = await import("./mod.ts");
  const { relu } = await import("../kernels/mod.ts");
  const n = dev.maxBinding / 4 + 4;
  const big = empty([n]);
  assert.throws(
    () => relu(big),
    new RegExp(`unary_relu: tensor \\[${n}\\] is ${n * 4} bytes, over .* limit ${dev.maxBinding}`),
  );
  big.dispose();
});
