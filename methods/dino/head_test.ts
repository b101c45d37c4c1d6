import assert from "node:assert/strict";
import { backward, initDevice, mul, noGrad, Rng, sum, tensor, tidy } from "../../mod.ts";
import { compareClose } from "../../core/testing.ts";
import type { StateDict } from "../../models/module.ts";
import { listCases, loadCase } from "../../tests/parity/refdata.ts";
import { DINOProjectionHead } from "./head.ts";

Deno.test("DINOProjectionHead matches the refdata dino_head case (forward and gradients)", async () => {
  await initDevice();
  const entry = listCases().find((c) => c.name === "dino_head");
  assert.ok(entry, "refdata case dino_head not found");
  const c = await loadCase(entry);
  const p = c.parameters as Record<string, number | boolean>;
  const head = new DINOProjectionHead({
    inputDim: p.input_dim as number,
    hiddenDim: p.hidden_dim as number,
    bottleneckDim: p.bottleneck_dim as number,
    outputDim: p.output_dim as number,
    batchNorm: p.batch_norm as boolean,
    normLastLayer: p.norm_last_layer as boolean,
  });
  assert.deepEqual(head.namedParameters().map(([n]) => n), [
    "layers.0.weight",
    "layers.0.bias",
    "layers.2.weight",
    "layers.2.bias",
    "layers.4.weight",
    "layers.4.bias",
    "last_layer.weight_g",
    "last_layer.weight_v",
  ]);
  const sd: StateDict = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    if (k !== "x") sd[k] = { dtype: "F32", shape: v.shape, data: v.data as Float32Array };
  }
  head.loadStateDict(sd, { source: "dino_head" });
  const x = tensor(c.inputs.x.data, c.inputs.x.shape).requireGrad();
  const y = tidy(() => {
    const y = head.forward(x);
    backward(sum(mul(y, tensor(c.gradWeights.y.data, y.shape))));
    return y;
  });
  const check = (name: string, got: ArrayLike<number>, ref: ArrayLike<number>) => {
    const r = compareClose(got, ref, c.rtol, c.atol);
    assert.ok(r.ok, `${name}: ${r.message}`);
  };
  check("y", await y.data(), c.outputs.y.data);
  check("x.grad", await x.grad!.data(), c.gradients.x.data);
  const params = new Map(head.namedParameters());
  for (const [k, g] of Object.entries(c.gradients)) {
    if (k === "x") continue;
    check(`${k}.grad`, await params.get(k)!.grad!.data(), g.data);
  }
  assert.equal(params.get("last_layer.weight_g")!.grad, null, "weight_g is frozen");
  y.dispose();
  x.dispose();
  head.dispose();
});

Deno.test("DINOProjectionHead: dinov2 names, trainable gain, batch-norm layout", async () => {
  await initDevice();
  const h2 = new DINOProjectionHead({
    inputDim: 8,
    hiddenDim: 16,
    bottleneckDim: 4,
    outputDim: 12,
    style: "dinov2",
    seed: 3,
  });
  assert.deepEqual(h2.namedParameters().map(([n]) => n), [
    "mlp.0.weight",
    "mlp.0.bias",
    "mlp.2.weight",
    "mlp.2.bias",
    "mlp.4.weight",
    "mlp.4.bias",
    "last_layer.parametrizations.weight.original0",
    "last_layer.parametrizations.weight.original1",
  ]);
  const x = tensor(new Rng(1).uniformArray(6 * 8), [6, 8]);
  tidy(() => backward(sum(h2.forward(x))));
  assert.ok(h2.lastLayer.weightG.grad, "the dinov2 gain g is trainable");
  const bn = new DINOProjectionHead({
    inputDim: 8,
    hiddenDim: 16,
    bottleneckDim: 4,
    outputDim: 12,
    batchNorm: true,
  });
  assert.deepEqual(
    bn.namedParameters().map(([n]) => n).filter((n) => n.startsWith("layers")),
    [
      "layers.0.weight",
      "layers.1.weight",
      "layers.1.bias",
      "layers.3.weight",
      "layers.4.weight",
      "layers.4.bias",
      "layers.6.weight",
      "layers.6.bias",
    ],
  );
  const y = noGrad(() => tidy(() => bn.forward(x)));
  assert.deepEqual(y.shape, [6, 12]);
  // Rows of the bottleneck are unit vectors and the weight-normed rows have norm g = 1.
  const wt = tidy(() => bn.lastLayer.weight());
  const w = await wt.data();
  wt.dispose();
  for (let o = 0; o < 12; o++) {
    const n = Math.hypot(...w.slice(o * 4, o * 4 + 4));
    assert.ok(Math.abs(n - 1) < 1e-5, `row ${o} norm ${n}`);
  }
  y.dispose();
  x.dispose();
  h2.dispose();
  bn.dispose();
});
