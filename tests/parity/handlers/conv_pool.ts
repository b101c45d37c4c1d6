// Parity handlers: conv2d, avg_pool2d, adaptive_avg_pool2d, max_pool2d, interpolate_bilinear.
import { collect, gpuInputs, type Handler } from "../registry.ts";
import type { RefCase } from "../refdata.ts";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  conv2d,
  interpolateBilinear,
  maxPool2d,
} from "../../../kernels/mod.ts";

function pair(c: RefCase, key: string, def?: number): [number, number] {
  const v = c.parameters[key] ?? def;
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  throw new Error(`${c.name}: parameter '${key}' must be a number or a pair, got ${v}`);
}

function expect(c: RefCase, key: string, want: unknown): void {
  const v = c.parameters[key];
  if (v !== undefined && JSON.stringify(v) !== JSON.stringify(want)) {
    throw new Error(`${c.name}: ${key}=${JSON.stringify(v)} is not supported (only ${want})`);
  }
}

/** Handlers of this file by op id. */
export const handlers: Record<string, Handler> = {
  conv2d: (c) => {
    const i = gpuInputs(c);
    const y = conv2d(i.x, i.weight, i.bias ?? null, {
      stride: pair(c, "stride", 1),
      padding: pair(c, "padding", 0),
      dilation: pair(c, "dilation", 1),
      groups: Number(c.parameters.groups ?? 1),
    });
    return collect(c, i, { y });
  },
  avg_pool2d: (c) => {
    expect(c, "ceil_mode", false);
    const i = gpuInputs(c);
    const k = pair(c, "kernel_size");
    const y = avgPool2d(
      i.x,
      k,
      pair(c, "stride", k[0]),
      pair(c, "padding", 0),
      c.parameters.count_include_pad !== false,
    );
    return collect(c, i, { y });
  },
  adaptive_avg_pool2d: (c) => {
    const i = gpuInputs(c);
    return collect(c, i, { y: adaptiveAvgPool2d(i.x, pair(c, "output_size")) });
  },
  max_pool2d: (c) => {
    expect(c, "ceil_mode", false);
    expect(c, "dilation", [1, 1]);
    const i = gpuInputs(c);
    const k = pair(c, "kernel_size");
    return collect(c, i, { y: maxPool2d(i.x, k, pair(c, "stride", k[0]), pair(c, "padding", 0)) });
  },
  interpolate_bilinear: (c) => {
    expect(c, "align_corners", false);
    expect(c, "antialias", false);
    const i = gpuInputs(c);
    return collect(c, i, { y: interpolateBilinear(i.x, pair(c, "size")) });
  },
};
