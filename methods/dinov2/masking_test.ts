import assert from "node:assert/strict";
import { Rng } from "../../core/random.ts";
import { createCollatedMasks, MaskingGenerator } from "./masking.ts";

const grid = (h: number, w: number, rng: Rng) =>
  new MaskingGenerator(rng, { height: h, width: w, maxNumPatches: Math.trunc(0.5 * h * w) });

Deno.test("MaskingGenerator: seeded, never more than asked, block-shaped", () => {
  const a = grid(14, 14, new Rng(7)).generate(60);
  const b = grid(14, 14, new Rng(7)).generate(60);
  assert.deepEqual(a, b, "same seed, same mask");
  assert.notDeepEqual(a, grid(14, 14, new Rng(8)).generate(60), "another seed differs");
  const gen = grid(14, 14, new Rng(1));
  for (const target of [0, 3, 10, 40, 98]) {
    for (let t = 0; t < 20; t++) {
      const m = gen.generate(target);
      const n = m.reduce((s, v) => s + v, 0);
      assert.ok(n <= target, `${n} masked > ${target} asked`);
      if (target >= 10) assert.ok(n > 0, `target ${target} masked nothing`);
    }
  }
  // Blocks, not scattered patches: nearly every masked patch has a masked 4-neighbour (an iid
  // mask of the same density, 10 %, would give about a third).
  let withNeighbour = 0, masked = 0;
  for (let t = 0; t < 30; t++) {
    const m = gen.generate(20);
    m.forEach((v, i) => {
      if (!v) return;
      const [r, c] = [Math.floor(i / 14), i % 14];
      masked++;
      const nb = [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]];
      if (nb.some(([y, x]) => y >= 0 && y < 14 && x >= 0 && x < 14 && m[y * 14 + x])) {
        withNeighbour++;
      }
    });
  }
  assert.ok(withNeighbour / masked > 0.8, `${withNeighbour} / ${masked} have a masked neighbour`);
});

Deno.test("createCollatedMasks: ratio spacing, unmasked crops, indices and weights", () => {
  const rng = new Rng(11);
  const gen = grid(16, 16, rng);
  const nCrops = 8, nMasked = 4, n = 256;
  for (let t = 0; t < 10; t++) {
    const r = createCollatedMasks(rng, gen, {
      maskRatioMin: 0.1,
      maskRatioMax: 0.5,
      nMaskedCrops: nMasked,
      nCrops,
    });
    assert.equal(r.masks.length, nCrops * n);
    const counts = Array.from(
      { length: nCrops },
      (_, c) => r.masks.subarray(c * n, (c + 1) * n).reduce((s, v) => s + v, 0),
    );
    assert.ok(counts.filter((k) => k === 0).length >= nCrops - nMasked, `counts ${counts}`);
    // Each masked crop i stays under int(n·ratio_{i+1}) with ratios linspace(0.1, 0.5, 5).
    const caps = [0.2, 0.3, 0.4, 0.5].map((p) => Math.trunc(n * p)).sort((x, y) => y - x);
    const sorted = [...counts].sort((x, y) => y - x).slice(0, nMasked);
    sorted.forEach((k, i) => assert.ok(k <= caps[i], `count ${k} above cap ${caps[i]}`));
    assert.ok(sorted[0] > 0.1 * n * 0.5, `largest crop mask ${sorted[0]} is too small`);
    // indices = masks.flatten().nonzero(), weights = 1 / count of the crop.
    const idx = Array.from(r.masks.keys()).filter((i) => r.masks[i]);
    assert.deepEqual(Array.from(r.indices), idx);
    r.indices.forEach((i, j) =>
      assert.ok(Math.abs(r.weights[j] - 1 / counts[Math.floor(i / n)]) < 1e-7)
    );
    const total = r.weights.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(total - counts.filter((k) => k > 0).length) < 1e-4);
  }
  // The masked crops are shuffled: over many batches every crop position gets masks.
  const hit = new Array(nCrops).fill(0);
  for (let t = 0; t < 40; t++) {
    const r = createCollatedMasks(rng, gen, {
      maskRatioMin: 0.1,
      maskRatioMax: 0.5,
      nMaskedCrops: 2,
      nCrops,
    });
    for (let c = 0; c < nCrops; c++) {
      if (r.masks.subarray(c * n, (c + 1) * n).some((v) => v)) hit[c]++;
    }
  }
  assert.ok(hit.every((h) => h > 0), `crop positions masked ${hit}`);
});
