/**
 * The software-adapter matmul: operands are packed into rgba32float texture arrays (a plain copy
 * when the layout allows, else one pack kernel) and a register-blocked kernel reads them with
 * `textureLoad` on read-only storage textures. On llvmpipe a texel load costs about one scalar
 * storage load but brings four floats, which is what makes this kernel several times faster
 * than reading storage buffers there. Textures come from a small size-bucketed cache that is
 * returned to after every op (see {@link texturePoolStats}, {@link trimMatmulTextures}).
 *
 * @module
 */
import texSrc from "./matmul_tex.wgsl" with { type: "text" };
import packSrc from "./matmul_pack.wgsl" with { type: "text" };
import { grid, kernel, packParams } from "./kernel.ts";
import { device, GpuError } from "../core/device.ts";
import {
  computePass,
  copyEncoder,
  flush,
  noteDispatch,
  pool,
  uniformBinding,
} from "../core/engine.ts";
import { fmtShape, type Tensor } from "../core/tensor.ts";
import type { MatmulDims } from "./matmul_select.ts";

/** Register block and workgroup width of the texture kernel. */
export interface TexConfig {
  /** Rows of C per invocation (all lanes of a workgroup share them). */
  R: number;
  /** Texel columns (4 floats each) of C per invocation. */
  C4: number;
  /** Invocations per workgroup. */
  WX: number;
}

/** The measured best block on lavapipe (2 cores, AVX-512 host; see bench/README.md). */
export const TEX_CONFIG: TexConfig = { R: 16, C4: 4, WX: 8 };

const FEATURE = "readonly_and_readwrite_storage_textures";
const MAX_GROUP_BYTES = 256 << 20;
const MAX_FREE_BYTES = 256 << 20;

/** The WGSL of the texture kernel for a block shape (the register block is unrolled here). */
export function texKernelSource(cfg: TexConfig): string {
  const { R, C4, WX } = cfg;
  const decl: string[] = [], body: string[] = [], store: string[] = [];
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < C4; j++) decl.push(`var acc${r}_${j} = vec4f(0.0);`);
  }
  for (let q = 0; q < 4; q++) {
    for (let j = 0; j < C4; j++) {
      body.push(
        `let b${q}_${j} = textureLoad(tb, vec2u(col4 + ${j * WX}u, kk * 4u + ${q}u), bl);`,
      );
    }
  }
  for (let r = 0; r < R; r++) {
    body.push(`let a${r} = textureLoad(ta, vec2u(kk, lrow0 + ${r}u), al);`);
    for (let j = 0; j < C4; j++) {
      body.push(
        `acc${r}_${j} = acc${r}_${j} + a${r}.x * b0_${j} + a${r}.y * b1_${j} + ` +
          `a${r}.z * b2_${j} + a${r}.w * b3_${j};`,
      );
    }
  }
  for (let r = 0; r < R; r++) {
    store.push(`if (row0 + ${r}u < p.M) {`);
    store.push(`  let base = cBase + (row0 + ${r}u) * p.N;`);
    for (let j = 0; j < C4; j++) {
      store.push(`  store4(base, (col4 + ${j * WX}u) * 4u, acc${r}_${j});`);
    }
    store.push("}");
  }
  const parts: Record<string, string[]> = { DECL: decl, BODY: body, STORE: store };
  return texSrc
    .replace(/^const R: u32 = \d+u;$/m, `const R: u32 = ${R}u;`)
    .replace(/^const C4: u32 = \d+u;$/m, `const C4: u32 = ${C4}u;`)
    .replace(/^const WX: u32 = \d+u;$/m, `const WX: u32 = ${WX}u;`)
    .replace(
      /^( *)\/\/#(DECL|BODY|STORE)$/gm,
      (_, ind: string, name: string) => ind + parts[name].join("\n" + ind),
    );
}

interface PooledTexture {
  tex: GPUTexture;
  view: GPUTextureView;
  key: string;
  bytes: number;
}

/** Byte counters of the matmul texture cache. */
export interface TexturePoolStats {
  /** Bytes in textures an op is using right now (0 between ops). */
  liveBytes: number;
  /** Bytes in cached textures waiting for reuse. */
  freeBytes: number;
  /** Number of textures ever created. */
  created: number;
}

const freeTex = new Map<string, PooledTexture[]>();
const texStats: TexturePoolStats = { liveBytes: 0, freeBytes: 0, created: 0 };

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Height/layer buckets: 4 per power of two, so similar shapes share textures. */
function bucket(n: number, min: number): number {
  if (n <= min) return min;
  const p = 2 ** Math.floor(Math.log2(n));
  return roundUp(n, Math.max(min, p / 4));
}

function acquireTexture(w: number, h: number, layers: number): PooledTexture {
  const key = `${w}x${h}x${layers}`;
  const hit = freeTex.get(key)?.pop();
  if (hit) {
    texStats.freeBytes -= hit.bytes;
    texStats.liveBytes += hit.bytes;
    return hit;
  }
  const dev = device();
  dev.assertAlive();
  const tex = dev.gpu.createTexture({
    label: `matmul-tex-${key}`,
    size: [w, h, layers],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  const view = tex.createView({ dimension: "2d-array" });
  const t = { tex, view, key, bytes: w * h * layers * 16 };
  texStats.created++;
  texStats.liveBytes += t.bytes;
  return t;
}

function releaseTexture(t: PooledTexture): void {
  texStats.liveBytes -= t.bytes;
  if (texStats.freeBytes + t.bytes > MAX_FREE_BYTES) {
    // The pending encoder may still use it: submit first (destroy then waits for that work).
    flush();
    t.tex.destroy();
    return;
  }
  let list = freeTex.get(t.key);
  if (!list) freeTex.set(t.key, list = []);
  list.push(t);
  texStats.freeBytes += t.bytes;
}

/** A snapshot of the texture cache counters. */
export function texturePoolStats(): TexturePoolStats {
  return { ...texStats };
}

/** Destroys every cached (free) matmul texture. */
export function trimMatmulTextures(): void {
  flush(); // encoded work may still use a free texture
  for (const list of freeTex.values()) for (const t of list) t.tex.destroy();
  freeTex.clear();
  texStats.freeBytes = 0;
}

/** Whether the texture kernel can run this product on the current device. */
export function texMatmulSupported(d: MatmulDims): boolean {
  const dev = device();
  const feats = (navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> })
    ?.wgslLanguageFeatures;
  if (!feats || !feats.has(FEATURE)) return false;
  const maxDim = dev.gpu.limits.maxTextureDimension2D;
  const k4 = Math.ceil(d.k / 4), n4 = Math.ceil(d.n / 4);
  // One layer of either texture must fit a storage binding (its pack staging buffer).
  const layerA = Math.min(roundUp(d.m, 16), maxDim) * roundUp(k4, 16) * 16;
  const layerB = k4 * 4 * roundUp(n4, 64) * 16;
  return d.k > 0 && d.m > 0 && d.n > 0 && roundUp(k4, 16) <= maxDim &&
    roundUp(n4, 64) <= maxDim && k4 * 4 <= maxDim && Math.max(layerA, layerB) <= dev.maxBinding;
}

const layouts = new Map<GPUDevice, GPUBindGroupLayout>();
const pipelines = new Map<string, GPUComputePipeline>();

function bindLayout(gpu: GPUDevice): GPUBindGroupLayout {
  let l = layouts.get(gpu);
  if (l) return l;
  const st = {
    access: "read-only" as GPUStorageTextureAccess,
    format: "rgba32float" as GPUTextureFormat,
    viewDimension: "2d-array" as GPUTextureViewDimension,
  };
  l = gpu.createBindGroupLayout({
    label: "matmul_tex",
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, storageTexture: st },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, storageTexture: st },
      { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } },
    ],
  });
  layouts.set(gpu, l);
  return l;
}

function pipeline(cfg: TexConfig): GPUComputePipeline {
  const dev = device();
  const key = `${cfg.R}x${cfg.C4}x${cfg.WX}`;
  let p = pipelines.get(key);
  if (p) return p;
  const name = `matmul_tex_${key}`;
  dev.gpu.pushErrorScope("validation");
  const module = dev.gpu.createShaderModule({ code: texKernelSource(cfg), label: name });
  p = dev.gpu.createComputePipeline({
    label: name,
    layout: dev.gpu.createPipelineLayout({ bindGroupLayouts: [bindLayout(dev.gpu)] }),
    compute: { module, entryPoint: "main" },
  });
  dev.gpu.popErrorScope().then((e) => {
    if (e) dev.pushError(new GpuError(`kernel '${name}' failed to compile: ${e.message}`));
  });
  pipelines.set(key, p);
  return p;
}

/** How one operand becomes a texture array: which rows, columns and strides to read. */
interface Operand {
  t: Tensor;
  rows: number;
  cols: number;
  trans: boolean;
  batched: boolean;
  /** The texture's rows past `rows` are read (B: up to a multiple of 4) and must be zero. */
  padRows: boolean;
}

/**
 * Fills `tex` (layers `batch0..batch0+nb` x `chunks`) from operand `o`: one copy when the
 * tensor already has the texture's row layout, else the pack kernel into a pooled staging
 * buffer and a copy.
 */
function fillTexture(
  tex: PooledTexture,
  o: Operand,
  batch0: number,
  nb: number,
  chunks: number,
  h: number,
  bindingBytes: number,
): void {
  const w = Math.ceil(o.cols / 4);
  const layers = (o.batched ? nb : 1) * chunks;
  const b0 = o.batched ? batch0 : 0;
  const direct = !o.trans && o.cols % 64 === 0 && chunks === 1 && !(o.padRows && h > o.rows);
  if (direct) {
    copyEncoder().copyBufferToTexture(
      {
        buffer: o.t.buffer,
        offset: b0 * o.rows * o.cols * 4,
        bytesPerRow: o.cols * 4,
        rowsPerImage: o.rows,
      },
      { texture: tex.tex },
      [w, o.rows, layers],
    );
    return;
  }
  const wp = roundUp(w, 16);
  const layerBytes = h * wp * 16;
  const slice = Math.max(1, Math.floor(bindingBytes / layerBytes));
  const rs = o.trans ? 1 : o.cols, cs = o.trans ? o.rows : 1;
  for (let l0 = 0; l0 < layers; l0 += slice) {
    const nl = Math.min(slice, layers - l0);
    const total = nl * h * w;
    const staging = pool.acquire(nl * layerBytes, "matmul-pack");
    try {
      kernel({ name: "matmul_pack", code: packSrc, constants: { WG: 256 } }).dispatch(
        [o.t, { buffer: staging, size: nl * layerBytes }],
        [o.rows, o.cols, rs, cs, o.batched ? o.rows * o.cols : 0, b0, chunks, h, w, wp, total, l0],
        grid(Math.ceil(total / 256)),
      );
      copyEncoder().copyBufferToTexture(
        { buffer: staging, bytesPerRow: wp * 16, rowsPerImage: h },
        { texture: tex.tex, origin: [0, 0, l0] },
        [w, h, nl],
      );
    } finally {
      pool.release(staging);
    }
  }
}

/** Overrides of the device limits that shape the texture layout (tests use small ones). */
export interface TexLimits {
  /** Most rows of op(A) per texture layer (default: the largest 2-D texture height). */
  layerRows?: number;
  /** Most texture layers per dispatch (default: maxTextureArrayLayers and a 256 MiB cap). */
  groupLayers?: number;
  /** Most bytes of one pack staging buffer (default: the storage binding limit). */
  bindingBytes?: number;
}

/**
 * Encodes `c = op(a) @ op(b)` with the texture kernel. `c` is the contiguous output
 * `[...batch, m, n]`; `d` the product's dims. Throws if {@link texMatmulSupported} is false.
 */
export function matmulTex(
  a: Tensor,
  b: Tensor,
  c: Tensor,
  d: MatmulDims,
  ta: boolean,
  tb: boolean,
  cfg: TexConfig = TEX_CONFIG,
  limits: TexLimits = {},
): void {
  if (!texMatmulSupported(d)) {
    throw new GpuError(
      `matmul_tex: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} exceeds the texture limits`,
    );
  }
  const dev = device();
  if (c.bytes > dev.maxBinding) {
    throw new GpuError(
      `matmul: output ${fmtShape(c.shape)} is ${c.bytes} bytes, over the adapter's storage ` +
        `binding limit ${dev.maxBinding}; use a smaller batch.`,
    );
  }
  const maxDim = limits.layerRows ?? dev.gpu.limits.maxTextureDimension2D;
  const maxLayers = limits.groupLayers ?? dev.gpu.limits.maxTextureArrayLayers;
  const nbTotal = d.batch.reduce((x, y) => x * y, 1);
  const k4 = Math.ceil(d.k / 4), n4 = Math.ceil(d.n / 4);
  // Rows of A per layer: a multiple of R, at most the texture height.
  const chunkRows = Math.max(cfg.R, Math.floor(maxDim / cfg.R) * cfg.R);
  const chunks = Math.ceil(d.m / chunkRows);
  const h = chunks === 1 ? roundUp(d.m, cfg.R) : chunkRows;
  const aw = roundUp(k4, 16), bw = roundUp(n4, Math.max(16, cfg.WX * cfg.C4));
  const layerBytes = Math.max(aw * h * chunks, k4 * 4 * bw) * 16;
  const perGroup = Math.max(
    1,
    Math.min(Math.floor(maxLayers / chunks), Math.floor(MAX_GROUP_BYTES / layerBytes), nbTotal),
  );
  const opA: Operand = {
    t: a,
    rows: d.m,
    cols: d.k,
    trans: ta,
    batched: d.aBatched,
    padRows: false,
  };
  const opB: Operand = {
    t: b,
    rows: d.k,
    cols: d.n,
    trans: tb,
    batched: d.bBatched,
    padRows: true,
  };
  const pipe = pipeline(cfg);
  for (let b0 = 0; b0 < nbTotal; b0 += perGroup) {
    const nb = Math.min(perGroup, nbTotal - b0);
    const texA = acquireTexture(aw, bucket(h, cfg.R), bucket((d.aBatched ? nb : 1) * chunks, 1));
    const texB = acquireTexture(bw, bucket(k4 * 4, 4), bucket(d.bBatched ? nb : 1, 1));
    try {
      const bytes = limits.bindingBytes ?? dev.maxBinding;
      fillTexture(texA, opA, b0, nb, chunks, h, bytes);
      fillTexture(texB, opB, b0, nb, 1, k4 * 4, bytes);
      const params = packParams([
        d.m,
        d.n,
        k4,
        h,
        chunks,
        d.bBatched ? 0 : 1,
        b0,
        d.aBatched ? 0 : 1,
      ]);
      // Grid x: row blocks (fastest, so neighbours share B's columns), y: column blocks.
      const gx = h / cfg.R, gy = Math.ceil(n4 / (cfg.WX * cfg.C4)), gz = nb * chunks;
      const limit = dev.gpu.limits.maxComputeWorkgroupsPerDimension;
      if (gx > limit || gy > limit || gz > limit) {
        throw new GpuError(`matmul_tex: grid [${gx}, ${gy}, ${gz}] exceeds ${limit}`);
      }
      const bg = dev.gpu.createBindGroup({
        layout: bindLayout(dev.gpu),
        entries: [
          { binding: 0, resource: uniformBinding(params) },
          { binding: 1, resource: texA.view },
          { binding: 2, resource: texB.view },
          { binding: 3, resource: { buffer: c.buffer, size: Math.max(16, roundUp(c.bytes, 16)) } },
        ],
      });
      dev.scoped("matmul_tex", () => {
        const pass = computePass(`matmul_tex_${cfg.R}x${cfg.C4}x${cfg.WX}`);
        pass.setPipeline(pipe);
        pass.setBindGroup(0, bg);
        pass.dispatchWorkgroups(gx, gy, gz);
      });
      noteDispatch();
    } finally {
      releaseTexture(texA);
      releaseTexture(texB);
    }
  }
}
