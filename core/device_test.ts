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

Deno.test("a validation error is thrown at the next sync, naming the kernel", async () => {
  await initDevice();
  const { tensor } = await import("./mod.ts");
  const { binaryRaw } = await import("../kernels/mod.ts");
  const a = tensor([1, 2], [2]);
  binaryRaw("add", a, a, a); // a bound as read and read_write: invalid usage
  await assert.rejects(() => sync(), /binary_add/);
  a.dispose();
});

Deno.test("a lost device makes every later use throw a clear error", async () => {
  const { Device } = await import("./mod.ts");
  const main = await initDevice();
  const adapter = await navigator.gpu.requestAdapter();
  const gpu = await adapter!.requestDevice();
  const dev = new Device(gpu, main.report, false);
  gpu.destroy();
  await gpu.lost;
  await new Promise((r) => setTimeout(r, 0));
  assert.throws(() => dev.assertAlive(), /GPU device lost \(destroyed\)/);
  await assert.rejects(() => dev.check(), /GPU device lost/);
});
