// Parity handlers: matmul, linear, relu, gelu.
import { collect, gpuInputs, type Handler } from "../registry.ts";
import { gelu, linear, matmul, relu } from "../../../kernels/mod.ts";

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  matmul: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: matmul(i.a, i.b) });
  },
  linear: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: linear(i.x, i.weight, i.bias) });
  },
  relu: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: relu(i.x) });
  },
  gelu: (c) => {
    const i = gpuInputs(c);
    const approx = c.parameters.approximate === "tanh" ? "tanh" : "none";
    return collect(c, i, { y: gelu(i.x, approx) });
  },
};
