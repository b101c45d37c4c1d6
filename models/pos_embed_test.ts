import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { tensor } from "../core/tensor.ts";
import { assertAllClose, compareClose, gradcheck, randomData } from "../core/testing.ts";
import "../kernels/mod.ts";
import {
  aaMatrix,
  bicubicMatrix,
  interpolatePosEmbed,
  interpolatePosEmbedRef,
  posEmbedAxisMatrix,
  PosEmbedMatrices,
  type PosEmbedMode,
} from "./pos_embed.ts";
import { loadCase, modelFixturesDir } from "../tests/parity/refdata.ts";
import { handlers } from "../tests/parity/handlers/models_vit.ts";
import { compareCase } from "../tests/parity/runner.ts";

await initDevice();

function rowSums(m: Float64Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, i) => {
    let s = 0;
    for (let j = 0; j < cols; j++) s += m[i * cols + j];
    return s;
  });
}

Deno.test("pos_embed: interpolation matrices are normalized and the identity at equal size", () => {
  for (const [n, g] of [[37, 16], [37, 7], [37, 40], [5, 3], [5, 9]]) {
    for (const s of rowSums(aaMatrix(n, g), g, n)) assert.ok(Math.abs(s - 1) < 1e-12);
    for (const s of rowSums(bicubicMatrix(n, g, n / g), g, n)) assert.ok(Math.abs(s - 1) < 1e-12);
  }
  const id = aaMatrix(6, 6);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 6; j++) assert.ok(Math.abs(id[i * 6 + j] - (i === j ? 1 : 0)) < 1e-15);
  }
  // Plain bicubic (A = -0.75) at scale 1 is the identity; with DINOv2's +0.1 it is not.
  const b = bicubicMatrix(6, 6, 1);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(b[i * 6 + i] - 1) < 1e-15);
  const off = posEmbedAxisMatrix("offset", 37, 37);
  assert.ok(Math.abs(off[0] - 1) > 1e-4);
});

Deno.test("pos_embed: aa downsampling by 2 uses support 4 with Keys a=-0.5 weights", () => {
  // scale 2, center 2*(i+0.5); tap j weight K((j - center + 0.5)/2), a = -0.5, normalized.
  const m = aaMatrix(8, 4);
  const K = (x: number) => {
    const a = -0.5, v = Math.abs(x);
    return v < 1
      ? (a + 2) * v ** 3 - (a + 3) * v ** 2 + 1
      : v < 2
      ? a * v ** 3 - 5 * a * v ** 2 + 8 * a * v - 4 * a
      : 0;
  };
  const i = 1, center = 3;
  const w = [];
  for (let j = 0; j < 7; j++) w.push(K((j - center + 0.5) / 2));
  const tot = w.reduce((s, v) => s + v, 0);
  for (let j = 0; j < 7; j++) assert.ok(Math.abs(m[i * 8 + j] - w[j] / tot) < 1e-14, `tap ${j}`);
  assert.equal(m[i * 8 + 7], 0);
});

Deno.test("pos_embed: GPU matmul path equals the host reference in both modes", async () => {
  const c = 3, n = 6;
  const host = randomData((1 + n * n) * c, 3);
  const pos = tensor(host, [1, 1 + n * n, c]);
  const mats = new PosEmbedMatrices();
  for (const mode of ["aa", "offset"] as PosEmbedMode[]) {
    for (const [gh, gw] of [[4, 4], [3, 5], [8, 7], [6, 6]]) {
      const y = interpolatePosEmbed(pos, gh, gw, mode, mats);
      assert.deepEqual(y.shape, [1, 1 + gh * gw, c]);
      assertAllClose(
        await y.data(),
        interpolatePosEmbedRef(host, c, gh, gw, mode),
        1e-5,
        1e-6,
        `${mode} ${gh}x${gw}`,
      );
      y.dispose();
    }
  }
  mats.dispose();
  pos.dispose();
});

Deno.test("pos_embed: gradients reach the table (gradcheck, both modes)", async () => {
  const c = 2, n = 4;
  for (const mode of ["aa", "offset"] as PosEmbedMode[]) {
    const mats = new PosEmbedMatrices();
    await gradcheck(
      (p) => interpolatePosEmbed(p, 3, 5, mode, mats),
      [{ data: randomData((1 + n * n) * c, 11), shape: [1, 1 + n * n, c] }],
      { eps: 1e-2, rtol: 1e-2, atol: 1e-3 },
    );
    mats.dispose();
  }
});

Deno.test("pos_embed: parity with dinov2_interpolate_pos_encoding (all 8 outputs)", async () => {
  const name = "dinov2_interpolate_pos_encoding";
  const dir = modelFixturesDir();
  const c = await loadCase({ name, op: name, group: "models", file: `${name}.json`, dir });
  assert.equal(Object.keys(c.outputs).length, 8);
  // Host float64 reference against the stored values.
  const pos = c.inputs.pos_embed;
  for (const [k, ref] of Object.entries(c.outputs)) {
    const [, mode, gh, gw] = /^(aa|offset)_(\d+)x(\d+)$/.exec(k)!;
    const got = interpolatePosEmbedRef(pos.data, 3, Number(gh), Number(gw), mode as PosEmbedMode);
    const r = compareClose(got, ref.data, c.rtol, c.atol);
    assert.ok(r.ok, `host ${k}: ${r.message}`);
  }
  // The GPU path through the parity handler.
  const res = compareCase(c, await handlers[c.op](c));
  console.log(`${name}: worst ${res.worst.toExponential(2)}`);
  assert.ok(res.ok, res.details.join("\n"));
});
