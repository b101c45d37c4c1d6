// Parity handlers: multi-head self-attention (timm / DINOv2 layout).
import { collect, gpuInputs, type Handler } from "../registry.ts";
import { mhsa } from "../../../kernels/mod.ts";

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  mhsa: (c) => {
    const i = gpuInputs(c);
    const heads = c.parameters.num_heads as number;
    const x = i.x;
    const headDim = c.parameters.head_dim;
    if (typeof headDim === "number" && headDim * heads !== x.shape[2]) {
      throw new Error(`${c.name}: head_dim ${headDim} x ${heads} heads != ${x.shape[2]} channels`);
    }
    const { y, attn } = mhsa(
      x,
      i["qkv.weight"],
      i["qkv.bias"],
      i["proj.weight"],
      i["proj.bias"],
      heads,
    );
    return collect(c, i, { y, attn });
  },
};
