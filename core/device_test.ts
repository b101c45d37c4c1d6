import assert from "node:assert/strict";
import { GpuError, initDevice, sync } from "./mod.ts";
import { kernel } from "../kernels/mod.ts";

Deno.test("device is requested with the adapter's own limits", async () => {
  const dev = await initDevice();
  assert.equal(dev.gpu.limits.maxStorageBufferBindingSize, dev.report.limits.maxStorageBufferBindingSize);
  assert.ok(dev.gpu.limits.maxStorageBuffersPerShaderStage >= 8);
  assert.equal(dev.report.f16, dev.gpu.features.has("shader-f16"));
});

Deno.test("a kernel that fails to compile is reported with its name", async () => {
  await initDevice();
  kernel({ name: "broken_kernel", code: "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }" });
  await assert.rejects(() => sync(), (e: Error) => {
    assert.ok(e instanceof GpuError);
    assert.match(e.message, /broken_kernel/);
    return true;
  });
});
