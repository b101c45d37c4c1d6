import { mergeHeads, mhsa, mhsaRef, splitHeads } from "./attention.ts";
import { initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

Deno.test("splitHeads / mergeHeads permute like the timm reshape", async () => {
  const b = 2, n = 3, c = 8, h = 2, dh = 4;
  const data = Float32Array.from({ length: b * n * 3 * c }, (_, i) => i);
  const qkv = tensor(data, [b, n, 3 * c]);
  const [q, k, v] = splitHeads(qkv, h);
  const outs = [await q.data(), await k.data(), await v.data()];
  for (let s = 0; s < 3; s++) {
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        for (let t = 0; t < n; t++) {
          for (let d = 0; d < dh; d++) {
            const want = data[(bi * n + t) * 3 * c + s * c + hi * dh + d];
            const got = outs[s][((bi * h + hi) * n + t) * dh + d];
            if (got !== want) {
              throw new Error(`split ${s} [${bi},${hi},${t},${d}]: ${got} != ${want}`);
            }
          }
        }
      }
    }
  }
  const m = mergeHeads(v);
  const md = await m.data();
  for (let bi = 0; bi < b; bi++) {
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < c; j++) {
        const want = data[(bi * n + t) * 3 * c + 2 * c + j];
        if (md[(bi * n + t) * c + j] !== want) throw new Error(`merge [${bi},${t},${j}]`);
      }
    }
  }
  for (const t of [qkv, q, k, v, m]) t.dispose();
});

Deno.test("mhsa matches the reference (y and attn)", async () => {
  for (const [b, n, c, h, bias] of [[2, 5, 16, 4, true], [1, 7, 12, 3, false]] as const) {
    const x = randomData(b * n * c, 1), qw = randomData(3 * c * c, 2).map((v) => v * 0.5);
    const qb = randomData(3 * c, 3), pw = randomData(c * c, 4), pb = randomData(c, 5);
    const r = mhsa(
      tensor(x, [b, n, c]),
      tensor(qw, [3 * c, c]),
      bias ? tensor(qb, [3 * c]) : null,
      tensor(pw, [c, c]),
      bias ? tensor(pb, [c]) : null,
      h,
    );
    const ref = mhsaRef(x, b, n, c, qw, bias ? qb : null, pw, bias ? pb : null, h);
    assertAllClose(await r.y.data(), ref.y, 1e-4, 1e-5, "y");
    assertAllClose(await r.attn.data(), ref.attn, 1e-4, 1e-5, "attn");
    if (r.attn.shape.join() !== [b, h, n, n].join()) throw new Error(`attn shape ${r.attn.shape}`);
    r.y.dispose();
    r.attn.dispose();
  }
});

Deno.test("mhsa gradients for every input", async () => {
  const b = 1, n = 3, c = 4, h = 2;
  await gradcheck(
    (x, qw, qb, pw, pb) => mhsa(x, qw, qb, pw, pb, h).y,
    [
      { data: randomData(b * n * c, 11), shape: [b, n, c] },
      { data: randomData(3 * c * c, 12), shape: [3 * c, c] },
      { data: randomData(3 * c, 13), shape: [3 * c] },
      { data: randomData(c * c, 14), shape: [c, c] },
      { data: randomData(c, 15), shape: [c] },
    ],
  );
});

Deno.test("mhsa rejects bad shapes", () => {
  const x = tensor(randomData(2 * 3 * 6), [2, 3, 6]);
  const w = tensor(randomData(18 * 6), [18, 6]), p = tensor(randomData(36), [6, 6]);
  throws(() => mhsa(x, w, null, p, null, 4), /mhsa: 6 channels do not split into 4 heads/);
  throws(
    () => mhsa(x, p, null, p, null, 2),
    /mhsa: for x \[2, 3, 6\] expected qkv.weight \[18, 6\]/,
  );
  for (const t of [x, w, p]) t.dispose();
});
