/**
 * rgba32float texture arrays for the tiled conv2d kernels on software adapters. On llvmpipe a
 * texel load (`textureLoad` of a read-only storage texture) costs about a quarter of a vec4
 * storage-buffer load, so there the padded inputs and re-laid weights are written into
 * textures (conv2d_pad_tex.wgsl, conv2d_prep_tex.wgsl) and the multi-row tiles read them
 * (measured 15-25% faster convolutions; the rest of their time is register spills). This module holds a small size-keyed texture cache
 * (a texture goes back to it right after the dispatches that use it are encoded, as pooled
 * buffers do) and {@link TexKernel}, a kernel whose bindings may be textures.
 * `SINTER_CONV_TEX=0` turns the texture path off; GPUs never take it.
 *
 * @module
 */
import { device, GpuError, readEnv } from "../core/device.ts";
import { computePass, flush, noteDispatch, uniformBinding } from "../core/engine.ts";
import type { Tensor } from "../core/tensor.ts";
import { packParams, type Param } from "./kernel.ts";

const FEATURE = "readonly_and_readwrite_storage_textures";
/** Most bytes of free textures kept for reuse. */
const MAX_FREE_BYTES = 256 << 20;

/** A cached rgba32float 2-D texture array: `w` texels wide, `h` rows, `layers` layers. */
export interface ConvTexture {
  /** The texture. */
  tex: GPUTexture;
  /** Its 2d-array view. */
  view: GPUTextureView;
  /** Width in texels (4 floats each). */
  w: number;
  /** Height in rows. */
  h: number;
  /** Layers. */
  layers: number;
  /** Cache key. */
  key: string;
  /** Size in bytes. */
  bytes: number;
}

const free = new Map<string, ConvTexture[]>();
let freeBytes = 0;
let created = 0;

/** Counters of the conv2d texture path (tests check that steady steps create nothing). */
export interface ConvTextureStats {
  /** Textures ever created. */
  created: number;
  /** Bytes in free cached textures. */
  freeBytes: number;
  /** Cached bind groups of {@link TexKernel} dispatches. */
  bindGroups: number;
}

/** A snapshot of the texture path's counters. */
export function convTextureStats(): ConvTextureStats {
  return { created, freeBytes, bindGroups: bindGroups.size };
}

/** Whether the conv2d kernels read textures here: a software adapter with read-only storage textures. */
export function convTexturesEnabled(): boolean {
  const dev = device();
  if (!dev.report.software || readEnv("SINTER_CONV_TEX") === "0") return false;
  const feats = (navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> })
    ?.wgslLanguageFeatures;
  return !!feats && feats.has(FEATURE);
}

/** Whether a texture of `w` x `h` x `layers` fits the device limits. */
export function textureFits(w: number, h: number, layers: number): boolean {
  const l = device().gpu.limits;
  return w >= 1 && h >= 1 && layers >= 1 && w <= l.maxTextureDimension2D &&
    h <= l.maxTextureDimension2D && layers <= l.maxTextureArrayLayers;
}

/** A texture of exactly `w` x `h` x `layers` from the cache (or a new one). */
export function acquireTexture(w: number, h: number, layers: number): ConvTexture {
  const key = `${w}x${h}x${layers}`;
  const hit = free.get(key)?.pop();
  if (hit) {
    freeBytes -= hit.bytes;
    return hit;
  }
  const dev = device();
  dev.assertAlive();
  if (!textureFits(w, h, layers)) {
    throw new GpuError(`conv2d: texture ${key} exceeds the device limits`);
  }
  created++;
  const tex = dev.gpu.createTexture({
    label: `conv2d-tex-${key}`,
    size: [w, h, layers],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING,
  });
  return {
    tex,
    view: tex.createView({ dimension: "2d-array" }),
    w,
    h,
    layers,
    key,
    bytes: w * h * layers * 16,
  };
}

/** Returns a texture to the cache; work already encoded that uses it runs first. */
export function releaseTexture(t: ConvTexture): void {
  if (freeBytes + t.bytes > MAX_FREE_BYTES) {
    // The pending encoder may still use it: submit first (destroy then waits for that work).
    flush();
    t.tex.destroy();
    return;
  }
  let list = free.get(t.key);
  if (!list) free.set(t.key, list = []);
  list.push(t);
  freeBytes += t.bytes;
}

/** Destroys every cached (free) conv2d texture. */
export function trimConvTextures(): void {
  flush(); // encoded work may still use a free texture
  for (const list of free.values()) for (const t of list) t.tex.destroy();
  free.clear();
  freeBytes = 0;
  bindGroups.clear();
}

// Bind groups are cached by (layout, resources) as in kernel.ts: a steady step gets the same
// pooled buffers, cached textures and uniform offsets in the same order, so it creates none.
const ids = new WeakMap<object, number>();
let nextId = 1;
const bindGroups = new Map<string, GPUBindGroup>();
const MAX_BIND_GROUPS = 4096;

function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, id = nextId++);
  return id;
}

function cachedBindGroup(layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[]): GPUBindGroup {
  let key = `${idOf(layout)}`;
  for (const e of entries) {
    const r = e.resource as GPUBufferBinding | GPUTextureView;
    if ("buffer" in r) key += `|${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    else key += `|t${idOf(r)}`;
  }
  let bg = bindGroups.get(key);
  if (!bg) {
    if (bindGroups.size >= MAX_BIND_GROUPS) bindGroups.clear();
    bg = device().gpu.createBindGroup({ layout, entries });
    bindGroups.set(key, bg);
  }
  return bg;
}

/** Binding kinds of a {@link TexKernel} after the uniform block at binding 0. */
export type TexSlot = "tex-read" | "tex-write" | "read" | "read-write";

function isTexture(r: Tensor | ConvTexture): r is ConvTexture {
  return "view" in r;
}

/** A compute kernel whose bindings 1.. may be storage textures (rgba32float, 2d-array). */
export class TexKernel {
  /** Kernel name. */
  readonly name: string;
  readonly #slots: readonly TexSlot[];
  readonly #layout: GPUBindGroupLayout;
  readonly #pipeline: GPUComputePipeline;

  constructor(
    name: string,
    code: string,
    slots: readonly TexSlot[],
    constants?: Record<string, number>,
  ) {
    const dev = device();
    this.name = name;
    this.#slots = slots;
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
    ];
    slots.forEach((s, i) => {
      const binding = i + 1, visibility = GPUShaderStage.COMPUTE;
      if (s === "tex-read" || s === "tex-write") {
        entries.push({
          binding,
          visibility,
          storageTexture: {
            access: s === "tex-read" ? "read-only" : "write-only",
            format: "rgba32float",
            viewDimension: "2d-array",
          },
        });
      } else {
        entries.push({
          binding,
          visibility,
          buffer: { type: s === "read" ? "read-only-storage" : "storage" },
        });
      }
    });
    dev.gpu.pushErrorScope("validation");
    this.#layout = dev.gpu.createBindGroupLayout({ label: name, entries });
    this.#pipeline = dev.gpu.createComputePipeline({
      label: name,
      layout: dev.gpu.createPipelineLayout({ bindGroupLayouts: [this.#layout] }),
      compute: {
        module: dev.gpu.createShaderModule({ code, label: name }),
        entryPoint: "main",
        constants,
      },
    });
    dev.gpu.popErrorScope().then((e) => {
      if (e) dev.pushError(new GpuError(`kernel '${name}' failed to compile: ${e.message}`));
    });
  }

  /** Appends one dispatch; `resources` bind at 1.. in the order of the slots. */
  dispatch(
    resources: readonly (Tensor | ConvTexture)[],
    params: readonly Param[],
    groups: readonly [number, number?, number?],
  ): void {
    const dev = device();
    const [x, y = 1, z = 1] = groups;
    const max = dev.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new GpuError(`${this.name}: grid [${x}, ${y}, ${z}] exceeds ${max}`);
    }
    if (resources.length !== this.#slots.length) {
      throw new GpuError(
        `${this.name}: ${resources.length} resources for ${this.#slots.length} slots`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: uniformBinding(packParams(params)) },
    ];
    resources.forEach((r, i) => {
      if (isTexture(r)) {
        entries.push({ binding: i + 1, resource: r.view });
      } else {
        r.assertLive(this.name);
        entries.push({
          binding: i + 1,
          resource: { buffer: r.buffer, size: Math.max(16, Math.ceil(r.bytes / 16) * 16) },
        });
      }
    });
    dev.scoped(this.name, () => {
      const bg = cachedBindGroup(this.#layout, entries);
      const pass = computePass(this.name);
      pass.setPipeline(this.#pipeline);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(x, y, z);
    });
    noteDispatch();
  }
}

const kernels = new Map<string, TexKernel>();

/** The cached {@link TexKernel} for a name (the name must identify the code). */
export function texKernel(
  name: string,
  code: () => string,
  slots: readonly TexSlot[],
  constants?: Record<string, number>,
): TexKernel {
  const key = `${name}|${JSON.stringify(constants ?? {})}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, k = new TexKernel(name, code(), slots, constants));
  return k;
}
