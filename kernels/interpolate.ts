/**
 * Bilinear resize (PyTorch `F.interpolate(mode="bilinear", align_corners=False)`) of NCHW
 * tensors to a given size, forward and backward (a gather per input pixel, no atomics), plus
 * a plain-TS reference.
 *
 * @module
 */
import src from "./interpolate.wgsl" with { type: "text" };
import { grid, kernel } from "./kernel.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";

const WG = 256;

function run(entry: "fwd" | "bwd", a: Tensor, out: Tensor, dims: number[], n: number): void {
  kernel({ name: `interpolate_bilinear_${entry}`, code: src, entry, constants: { WG } })
    .dispatch([a, out], [...dims, 0, 0, 0], grid(Math.ceil(n / WG)));
}

/** Bilinear resize of `x [N, C, H, W]` to `[N, C, oh, ow]` with `align_corners=False`. */
export function interpolateBilinear(x: Tensor, size: readonly [number, number]): Tensor {
  if (x.shape.length !== 4) {
    throw new GpuError(`interpolateBilinear: input ${fmtShape(x.shape)} must be NCHW`);
  }
  const [N, C, H, W] = x.shape;
  const [OH, OW] = size;
  if (!Number.isInteger(OH) || !Number.isInteger(OW) || OH < 1 || OW < 1) {
    throw new GpuError(`interpolateBilinear: bad size ${fmtShape(size)} for ${fmtShape(x.shape)}`);
  }
  const dims = [N * C, H, W, OH, OW];
  const y = empty([N, C, OH, OW], "f32", "interpolateBilinear");
  run("fwd", x, y, dims, y.size);
  record("interpolateBilinear", [x], [y], [], ([g]) => {
    if (!g) return [null];
    const dx = empty(x.shape, "f32", "interpolateBilinear_bwd");
    run("bwd", g, dx, dims, dx.size);
    return [dx];
  });
  return y;
}

/** Source taps of output `o` along a dim of size `n -> m` (align_corners=False). */
function tapRef(o: number, n: number, m: number): [number, number, number] {
  const s = Math.max(((o + 0.5) * n) / m - 0.5, 0);
  const i0 = Math.min(Math.floor(s), n - 1);
  return [i0, Math.min(i0 + 1, n - 1), s - i0];
}

/** Reference bilinear resize on host data (NCHW), float64. */
export function interpolateBilinearRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  size: readonly [number, number],
): Float64Array {
  const [N, C, H, W] = shape;
  const [OH, OW] = size;
  const y = new Float64Array(N * C * OH * OW);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < OH; oh++) {
      const [h0, h1, lh] = tapRef(oh, H, OH);
      for (let ow = 0; ow < OW; ow++) {
        const [w0, w1, lw] = tapRef(ow, W, OW);
        const at = (h: number, w: number) => x[(pl * H + h) * W + w];
        y[(pl * OH + oh) * OW + ow] = (1 - lh) * ((1 - lw) * at(h0, w0) + lw * at(h0, w1)) +
          lh * ((1 - lw) * at(h1, w0) + lw * at(h1, w1));
      }
    }
  }
  return y;
}
