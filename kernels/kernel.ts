/**
 * Compiled WGSL kernels and their dispatch. A kernel is created once per (source, entry,
 * override constants) and cached; each dispatch binds an optional uniform block at binding 0
 * and storage tensors at bindings 1.. in order.
 *
 * @module
 */
import { device, GpuError } from "../core/device.ts";
import { computePass, noteDispatch, uniformBinding } from "../core/engine.ts";
import { fmtShape, type Tensor } from "../core/tensor.ts";

/** A uniform value: plain numbers are written as i32 (u32 bit pattern for >= 0); wrap floats with {@link f32}. */
export type Param = number | { f: number };

/** Marks a uniform value as an f32. */
export function f32(v: number): { f: number } {
  return { f: v };
}

/** Packs uniform values, 4 bytes each, in order. */
export function packParams(values: readonly Param[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(values.length / 4) * 16));
  const i32 = new Int32Array(buf);
  const u32 = new Uint32Array(buf);
  const f = new Float32Array(buf);
  values.forEach((v, i) => {
    if (typeof v === "number") {
      if (v > 0x7fffffff) u32[i] = v;
      else i32[i] = v;
    } else f[i] = v.f;
  });
  return buf;
}

/** Description of a kernel. */
export interface KernelSpec {
  /** Name used in errors and benchmarks. */
  name: string;
  /** WGSL source. */
  code: string;
  /** Entry point (default "main"). */
  entry?: string;
  /** Pipeline-overridable constants (tile sizes, op selectors). */
  constants?: Record<string, number>;
}

const cache = new Map<string, Kernel>();
const modules = new Map<string, GPUShaderModule>();
const layouts = new Map<string, GPUPipelineLayout>();

const BINDING_RE =
  /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>/g;

/**
 * An explicit layout from the module's binding declarations, so an entry point that does not
 * use every binding still accepts the full set (layout "auto" would drop the unused ones).
 */
function layoutFor(gpu: GPUDevice, code: string): GPUPipelineLayout {
  let l = layouts.get(code);
  if (l) return l;
  const entries: GPUBindGroupLayoutEntry[] = [];
  for (const m of code.matchAll(BINDING_RE)) {
    const kind = m[2].replace(/\s/g, "");
    const type: GPUBufferBindingType = kind === "uniform"
      ? "uniform"
      : kind === "storage,read_write"
      ? "storage"
      : "read-only-storage";
    entries.push({ binding: Number(m[1]), visibility: GPUShaderStage.COMPUTE, buffer: { type } });
  }
  const bgl = gpu.createBindGroupLayout({ entries });
  l = gpu.createPipelineLayout({ bindGroupLayouts: [bgl] });
  layouts.set(code, l);
  bindLayouts.set(l, bgl);
  return l;
}
const bindLayouts = new Map<GPUPipelineLayout, GPUBindGroupLayout>();

// Bind groups are cached by (layout, buffers, offsets, sizes). A training step with fixed shapes
// gets the same pooled buffers and uniform-arena offsets every step, so from the second step on
// every dispatch finds its bind group here: the steady step creates none (a replay, in effect).
const bufferIds = new WeakMap<GPUBuffer, number>();
const layoutIds = new WeakMap<GPUBindGroupLayout, number>();
let nextId = 1;
const bindGroups = new Map<string, GPUBindGroup>();
const MAX_BIND_GROUPS = 16384;

function idOf<T extends object>(map: WeakMap<T, number>, o: T): number {
  let id = map.get(o);
  if (id === undefined) map.set(o, id = nextId++);
  return id;
}

function cachedBindGroup(
  gpu: GPUDevice,
  layout: GPUBindGroupLayout,
  entries: GPUBindGroupEntry[],
): GPUBindGroup {
  let key = `${idOf(layoutIds, layout)}`;
  for (const e of entries) {
    const r = e.resource as GPUBufferBinding;
    key += `|${idOf(bufferIds, r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
  }
  let bg = bindGroups.get(key);
  if (!bg) {
    if (bindGroups.size >= MAX_BIND_GROUPS) bindGroups.clear();
    bg = gpu.createBindGroup({ layout, entries });
    bindGroups.set(key, bg);
  }
  return bg;
}

/** Drops cached bind groups (after buffers were destroyed, e.g. by `pool.trim()`). */
export function clearBindGroupCache(): void {
  bindGroups.clear();
}

/** Number of cached bind groups (benchmarks and tests). */
export function bindGroupCacheSize(): number {
  return bindGroups.size;
}

/** A compiled compute pipeline. */
export class Kernel {
  /** Kernel name. */
  readonly name: string;
  /** The pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Whether binding 0 is a uniform block. */
  readonly hasUniforms: boolean;
  /** The explicit bind group layout. */
  readonly bindLayout: GPUBindGroupLayout;

  constructor(spec: KernelSpec) {
    const dev = device();
    this.name = spec.name;
    this.hasUniforms = /@binding\(0\)\s*var<uniform>/.test(spec.code);
    let mod = modules.get(spec.code);
    dev.gpu.pushErrorScope("validation");
    if (!mod) {
      mod = dev.gpu.createShaderModule({ code: spec.code, label: spec.name });
      modules.set(spec.code, mod);
    }
    const layout = layoutFor(dev.gpu, spec.code);
    this.bindLayout = bindLayouts.get(layout)!;
    this.pipeline = dev.gpu.createComputePipeline({
      layout,
      label: spec.name,
      compute: { module: mod, entryPoint: spec.entry ?? "main", constants: spec.constants },
    });
    dev.gpu.popErrorScope().then((e) => {
      if (e) dev.pushError(new GpuError(`kernel '${spec.name}' failed to compile: ${e.message}`));
    });
  }

  /**
   * Appends one dispatch. `groups` is the workgroup grid; `tensors` bind at 1.. in order.
   * `op` and the tensors' shapes name the failing call in errors.
   */
  dispatch(
    tensors: readonly (Tensor | GPUBufferBinding)[],
    params: readonly Param[] | null,
    groups: readonly [number, number?, number?],
  ): void {
    const dev = device();
    const max = dev.gpu.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = groups;
    if (x > max || y > max || z > max) {
      throw new GpuError(
        `${this.name}: grid [${x}, ${y}, ${z}] exceeds maxComputeWorkgroupsPerDimension ${max}`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    if (this.hasUniforms) {
      entries.push({ binding: 0, resource: uniformBinding(packParams(params ?? [])) });
    }
    tensors.forEach((t, i) => {
      if ("buffer" in t && "shape" in t) {
        const tt = t as Tensor;
        tt.assertLive(this.name);
        if (tt.bytes > dev.maxBinding) {
          throw new GpuError(
            `${this.name}: tensor ${fmtShape(tt.shape)} is ${tt.bytes} bytes, over the ` +
              `adapter's storage binding limit ${dev.maxBinding}; use a smaller batch.`,
          );
        }
        entries.push({
          binding: i + 1,
          resource: { buffer: tt.buffer, size: Math.max(16, Math.ceil(tt.bytes / 16) * 16) },
        });
      } else entries.push({ binding: i + 1, resource: t as GPUBufferBinding });
    });
    dev.scoped(this.name, () => {
      const bg = cachedBindGroup(dev.gpu, this.bindLayout, entries);
      const pass = computePass(this.name);
      pass.setPipeline(this.pipeline);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(x, y, z);
    });
    noteDispatch();
  }
}

// Sources get a small id, so variants generated from one template (same name, same length)
// never share a cache entry; V8 caches a string's hash, so the lookup stays cheap.
const codeIds = new Map<string, number>();

/** The cached kernel for a spec. */
export function kernel(spec: KernelSpec): Kernel {
  let id = codeIds.get(spec.code);
  if (id === undefined) codeIds.set(spec.code, id = codeIds.size);
  const key = `${spec.name}|${spec.entry ?? "main"}|${JSON.stringify(spec.constants ?? {})}|${id}`;
  let k = cache.get(key);
  if (!k) cache.set(key, k = new Kernel(spec));
  return k;
}

const vec4Sources = new Map<string, string>();

/**
 * The 4-wide form of a kernel template written over `alias T = f32;` and
 * `const LANES: u32 = 1u;` (and optionally `fn hsum(v: T) -> f32 { return v; }`): T becomes
 * vec4f, LANES 4 and hsum the sum of the lanes. On a CPU adapter a vec4 load costs about what
 * a scalar one does, so kernels that stream contiguous data run about 2.5x faster in this form.
 */
export function vec4Source(src: string): string {
  let v = vec4Sources.get(src);
  if (v) return v;
  if (!/^alias T = f32;$/m.test(src) || !/^const LANES: u32 = 1u;$/m.test(src)) {
    throw new GpuError(
      "vec4Source: the template lacks `alias T = f32;` / `const LANES: u32 = 1u;`",
    );
  }
  v = src
    .replace(/^alias T = f32;$/m, "alias T = vec4f;")
    .replace(/^const LANES: u32 = 1u;$/m, "const LANES: u32 = 4u;")
    .replace(
      "fn hsum(v: T) -> f32 { return v; }",
      "fn hsum(v: T) -> f32 { return v.x + v.y + v.z + v.w; }",
    );
  vec4Sources.set(src, v);
  return v;
}

/** Splits `n` workgroups over x and y so neither exceeds 65535; kernels rebuild the index as `gid.x + gid.y * nx * wg`. */
export function grid(n: number): [number, number] {
  const max = 65535;
  if (n <= max) return [Math.max(n, 1), 1];
  const y = Math.ceil(n / max);
  return [Math.ceil(n / y), y];
}

/**
 * Dispatch of a row kernel (softmax, layer norm): on software adapters rows up to 1024 long run
 * one per invocation (entry `rows`, no workgroup memory or barriers, which are costly on a CPU);
 * elsewhere one workgroup of `wg` per row (entry `main`).
 */
export function rowEntry(
  rows: number,
  len: number,
  wg: number,
): { entry: string; groups: [number, number] } {
  if (device().report.software && len <= 1024) {
    return { entry: "rows", groups: grid(Math.ceil(rows / wg)) };
  }
  return { entry: "main", groups: grid(rows) };
}
