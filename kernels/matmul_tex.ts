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

/**
 * The block for a product: {@link TEX_CONFIG}, except that products with at most 64 columns use
 * half as many column texels per invocation (a 128-column block would be half padding) and,
 * with at most 96 rows, half as many rows. Measured on lavapipe: 1.4-2.2x faster on n = 64
 * (attention `p @ v`, m = 65; m = 8320; batched m = 200).
 */
export function texConfigFor(d: MatmulDims): TexConfig {
  if (Math.ceil(d.n / 4) > 2 * TEX_CONFIG.WX) return TEX_CONFIG;
  return { R: d.m <= 96 ? 8 : 16, C4: 2, WX: TEX_CONFIG.WX };
}

const FEATURE = "readonly_and_readwrite_storage_textures";
const MAX_GROUP_BYTES = 256 << 20;
const MAX_FREE_BYTES = 256 << 20;

/**
 * The WGSL of the texture kernel for a block shape and operand layout (`ta`: A stored
 * `[K, M]`, `tb`: B stored `[N, K]`); the register block is unrolled here.
 */
export function texKernelSource(
  cfg: TexConfig,
  ta = false,
  tb = false,
  rowsFast = true,
  hasBias = false,
  vecStore = false,
): string {
  const { R, C4, WX } = cfg;
  if (ta && R % 4 !== 0) throw new GpuError(`matmul_tex: R=${R} must be a multiple of 4 for TA`);
  const decl: string[] = [], body: string[] = [], store: string[] = [];
  const xyzw = ["x", "y", "z", "w"];
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < C4; j++) decl.push(`var acc${r}_${j} = vec4f(0.0);`);
  }
  // B texels: not TB, b{s}_{j} = B[k = 4kt + s, n texel j]; TB, b{j}_{q} = B[n = 4 texel j + q, k texel].
  for (let j = 0; j < C4; j++) {
    for (let q = 0; q < 4; q++) {
      body.push(
        tb
          ? `let b${j}_${q} = textureLoad(tb, vec2u(kt, brow0 + ${j * WX * 4 + q}u), bl);`
          : `let b${q}_${j} = textureLoad(tb, vec2u(col4 + ${j * WX}u, kr + ${q}u), bl);`,
      );
    }
  }
  // A texels: not TA, a{r} = A[row r, k texel]; TA, a{r4}_{s} = A[k = 4kt + s, m texel r4].
  if (ta) {
    for (let r4 = 0; r4 < R / 4; r4++) {
      for (let s = 0; s < 4; s++) {
        body.push(`let a${r4}_${s} = textureLoad(ta, vec2u(acol0 + ${r4}u, kr + ${s}u), al);`);
      }
    }
  } else {
    for (let r = 0; r < R; r++) {
      body.push(`let a${r} = textureLoad(ta, vec2u(kt, lrow0 + ${r}u), al);`);
    }
  }
  const aAt = (r: number, s: number) => ta ? `a${r >> 2}_${s}.${xyzw[r & 3]}` : `a${r}.${xyzw[s]}`;
  for (let r = 0; r < R; r++) {
    const av = ta ? `av${r}` : `a${r}`;
    if (ta && tb) {
      body.push(`let av${r} = vec4f(${[0, 1, 2, 3].map((s) => aAt(r, s)).join(", ")});`);
    }
    for (let j = 0; j < C4; j++) {
      body.push(
        tb
          ? `acc${r}_${j} = acc${r}_${j} + vec4f(${
            [0, 1, 2, 3].map((q) => `dot(${av}, b${j}_${q})`).join(", ")
          });`
          : `acc${r}_${j} = acc${r}_${j} + ${
            [0, 1, 2, 3].map((s) => `${aAt(r, s)} * b${s}_${j}`).join(" + ")
          };`,
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
  const write = vecStore ? ["if (col < p.N) { c[(base + col) / 4u] = v; }"] : [
    "if (col < p.N) { c[base + col] = v.x; }",
    "if (col + 1u < p.N) { c[base + col + 1u] = v.y; }",
    "if (col + 2u < p.N) { c[base + col + 2u] = v.z; }",
    "if (col + 3u < p.N) { c[base + col + 3u] = v.w; }",
  ];
  const parts: Record<string, string[]> = { DECL: decl, BODY: body, STORE: store, WRITE: write };
  return texSrc
    .replace(/^const R: u32 = \d+u;$/m, `const R: u32 = ${R}u;`)
    .replace(/^const C4: u32 = \d+u;$/m, `const C4: u32 = ${C4}u;`)
    .replace(/^const WX: u32 = \d+u;$/m, `const WX: u32 = ${WX}u;`)
    .replace(/^const TA: bool = \w+;$/m, `const TA: bool = ${ta};`)
    .replace(/^const TB: bool = \w+;$/m, `const TB: bool = ${tb};`)
    .replace(/^const ROWS_FAST: bool = \w+;$/m, `const ROWS_FAST: bool = ${rowsFast};`)
    .replace(/^const HAS_BIAS: bool = \w+;$/m, `const HAS_BIAS: bool = ${hasBias};`)
    .replace(/^alias CT = f32;$/m, `alias CT = ${vecStore ? "vec4f" : "f32"};`)
    .replace(
      /^( *)\/\/#(DECL|BODY|STORE|WRITE)$/gm,
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

/**
 * How the operands of one product lie in textures: a texture mirrors its operand's stored
 * matrix, cut into layers of `h` rows (`chunks` per batch entry) when it is taller than a
 * texture. Operands whose rows are k (A transposed, B not) share one layer height.
 */
interface Plan {
  a: Operand;
  b: Operand;
  /** Texels along k per k chunk, and the number of k chunks (1 when no operand has k rows). */
  kStep4: number;
  kChunks: number;
}

/** One operand's stored matrix and its texture layout. */
interface Operand {
  /** Stored rows and columns (the transpose of op(x) when transposed). */
  rows: number;
  cols: number;
  batched: boolean;
  /** Rows per layer, layers per batch entry, and texels per row the kernel reads. */
  h: number;
  chunks: number;
  texels: number;
  /** Its rows are k: rows past K up to a multiple of 4 are read and must be zero. */
  kRows: boolean;
}

function plan(
  d: MatmulDims,
  ta: boolean,
  tb: boolean,
  cfg: TexConfig,
  maxDim: number,
): Plan {
  const { R, C4, WX } = cfg;
  const k4 = Math.ceil(d.k / 4), n4 = Math.ceil(d.n / 4);
  const colRows = 4 * WX * C4; // rows of a TB texture one workgroup reads
  const kRowed = ta || !tb;
  // Rows split into equal chunks (each at most a texture high), so that a tall contiguous
  // operand still fills its texture with one copy when the chunks divide it.
  const chunked = (rows: number, align: number) => {
    const chunks = Math.ceil(rows / Math.max(align, Math.floor(maxDim / align) * align));
    return { chunks, h: roundUp(Math.ceil(rows / chunks), align) };
  };
  const kc = chunked(d.k, 4);
  const kChunks = kRowed ? kc.chunks : 1;
  const kLayer = { h: kc.h, chunks: kc.chunks, kRows: true };
  let aLayout;
  if (ta) aLayout = { ...kLayer, texels: roundUp(d.m, R) / 4 };
  else aLayout = { ...chunked(d.m, R), texels: k4, kRows: false };
  let bLayout;
  if (tb) bLayout = { ...chunked(d.n, colRows), texels: k4, kRows: false };
  else bLayout = { ...kLayer, texels: roundUp(n4, WX * C4) };
  return {
    a: {
      rows: ta ? d.k : d.m,
      cols: ta ? d.m : d.k,
      batched: d.aBatched,
      ...aLayout,
    },
    b: {
      rows: tb ? d.n : d.k,
      cols: tb ? d.k : d.n,
      batched: d.bBatched,
      ...bLayout,
    },
    kStep4: kRowed ? kc.h / 4 : k4,
    kChunks,
  };
}

/** Texels per row of an operand's texture as allocated (what the kernel reads, what is copied). */
function texWidth(o: Operand): number {
  return roundUp(Math.max(o.texels, Math.ceil(o.cols / 4)), 16);
}

/** Bytes of one layer of an operand's texture. */
function layerBytes(o: Operand): number {
  return texWidth(o) * o.h * 16;
}

/** Whether the texture kernel can run this product (either operand layout) on the device. */
export function texMatmulSupported(d: MatmulDims, cfg: TexConfig = TEX_CONFIG): boolean {
  const dev = device();
  const feats = (navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> })
    ?.wgslLanguageFeatures;
  if (!feats || !feats.has(FEATURE)) return false;
  if (!(d.k > 0 && d.m > 0 && d.n > 0)) return false;
  const maxDim = dev.gpu.limits.maxTextureDimension2D;
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const p = plan(d, ta, tb, cfg, maxDim);
      for (const o of [p.a, p.b]) {
        // One layer must fit a texture and a storage binding (its pack staging buffer).
        if (texWidth(o) > maxDim || o.h > maxDim || layerBytes(o) > dev.maxBinding) return false;
      }
    }
  }
  return true;
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
      { binding: 4, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } },
    ],
  });
  layouts.set(gpu, l);
  return l;
}

/** The kernel's name: block shape and operand layout (n: as stored, t: transposed). */
function kernelName(cfg: TexConfig, ta: boolean, tb: boolean): string {
  return `matmul_tex_${cfg.R}x${cfg.C4}x${cfg.WX}_${ta ? "t" : "n"}${tb ? "t" : "n"}`;
}

function pipeline(
  cfg: TexConfig,
  ta: boolean,
  tb: boolean,
  rowsFast: boolean,
  hasBias: boolean,
  vecStore: boolean,
): GPUComputePipeline {
  const dev = device();
  const name = kernelName(cfg, ta, tb);
  const key = `${name}_${rowsFast ? "r" : "c"}${hasBias ? "_bias" : ""}${vecStore ? "_v4" : ""}`;
  let p = pipelines.get(key);
  if (p) return p;
  dev.gpu.pushErrorScope("validation");
  const module = dev.gpu.createShaderModule({
    code: texKernelSource(cfg, ta, tb, rowsFast, hasBias, vecStore),
    label: name,
  });
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

let zeros: GPUBuffer | null = null;
let zerosDevice: GPUDevice | null = null;

/**
 * A zero-filled buffer of at least `bytes` (WebGPU zero-initializes; nothing writes it): the
 * source of zero rows, and the bias binding of a product without one.
 */
function zeroBuffer(bytes: number): GPUBuffer {
  const gpu = device().gpu;
  if (zerosDevice !== gpu) zeros = null;
  if (!zeros || zeros.size < bytes) {
    // The pending encoder may still copy from the old one: submit first.
    if (zeros) flush();
    zeros?.destroy();
    zerosDevice = gpu;
    zeros = gpu.createBuffer({
      label: "matmul-tex-zeros",
      size: roundUp(Math.max(bytes, 1 << 16), 256),
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE,
    });
  }
  return zeros;
}

/**
 * Fills `tex` (layers of batch entries `batch0..batch0+nb`) from operand `o`: one copy when
 * the tensor's rows already are the texture's rows (plus a copy of zeros into the rows past K
 * that the k loop reads), else the pack kernel into a pooled staging buffer and a copy.
 */
function fillTexture(
  tex: PooledTexture,
  t: Tensor,
  o: Operand,
  batch0: number,
  nb: number,
  bindingBytes: number,
): void {
  const w = Math.ceil(o.cols / 4);
  const layers = (o.batched ? nb : 1) * o.chunks;
  const b0 = o.batched ? batch0 : 0;
  const pad = o.kRows ? roundUp(o.rows, 4) - o.rows : 0;
  if (
    o.cols % 64 === 0 && (o.chunks === 1 || o.rows === o.chunks * o.h) && !(pad && o.chunks > 1)
  ) {
    const rows = o.chunks === 1 ? o.rows : o.h;
    const bpr = roundUp(w * 16, 256);
    // Before taking the encoder: growing the zero buffer may submit it.
    const zero = pad ? zeroBuffer(bpr * pad * layers) : null;
    const enc = copyEncoder();
    enc.copyBufferToTexture(
      {
        buffer: t.buffer,
        offset: b0 * o.rows * o.cols * 4,
        bytesPerRow: o.cols * 4,
        rowsPerImage: rows,
      },
      { texture: tex.tex },
      [w, rows, layers],
    );
    if (zero) {
      enc.copyBufferToTexture(
        { buffer: zero, bytesPerRow: bpr, rowsPerImage: pad },
        { texture: tex.tex, origin: [0, o.rows, 0] },
        [w, pad, layers],
      );
    }
    return;
  }
  const wp = roundUp(w, 16);
  const bytes = o.h * wp * 16;
  const slice = Math.max(1, Math.floor(bindingBytes / bytes));
  for (let l0 = 0; l0 < layers; l0 += slice) {
    const nl = Math.min(slice, layers - l0);
    const total = nl * o.h;
    const staging = pool.acquire(nl * bytes, "matmul-pack");
    try {
      kernel({ name: "matmul_pack", code: packSrc, constants: { WG: 64 } }).dispatch(
        [t, { buffer: staging, size: nl * bytes }],
        [o.rows, o.cols, o.batched ? o.rows * o.cols : 0, b0, o.chunks, o.h, wp, total, l0],
        grid(Math.ceil(total / 64)),
      );
      copyEncoder().copyBufferToTexture(
        { buffer: staging, bytesPerRow: wp * 16, rowsPerImage: o.h },
        { texture: tex.tex, origin: [0, 0, l0] },
        [w, o.h, nl],
      );
    } finally {
      pool.release(staging);
    }
  }
}

/** Overrides of the device limits that shape the texture layout (tests use small ones). */
export interface TexLimits {
  /** Most rows of a stored operand per texture layer (default: the largest 2-D texture height). */
  layerRows?: number;
  /** Most texture layers per dispatch (default: maxTextureArrayLayers and a 256 MiB cap). */
  groupLayers?: number;
  /** Most bytes of one pack staging buffer (default: the storage binding limit). */
  bindingBytes?: number;
}

/**
 * Encodes `c = op(a) @ op(b)` (`+ bias` over the last dim when given) with the texture kernel.
 * `c` is the contiguous output `[...batch, m, n]`; `d` the product's dims. Throws if
 * {@link texMatmulSupported} is false.
 */
export function matmulTex(
  a: Tensor,
  b: Tensor,
  c: Tensor,
  d: MatmulDims,
  ta: boolean,
  tb: boolean,
  cfg: TexConfig = texConfigFor(d),
  limits: TexLimits = {},
  bias: Tensor | null = null,
): void {
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== d.n)) {
    throw new GpuError(`matmul_tex: bias ${fmtShape(bias.shape)} for ${d.n} output columns`);
  }
  if (!texMatmulSupported(d, cfg)) {
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
  const p = plan(d, ta, tb, cfg, maxDim);
  const perEntry = Math.max(layerBytes(p.a) * p.a.chunks, layerBytes(p.b) * p.b.chunks);
  const perGroup = Math.max(
    1,
    Math.min(
      Math.floor(maxLayers / Math.max(p.a.chunks, p.b.chunks)),
      Math.floor(MAX_GROUP_BYTES / perEntry),
      nbTotal,
    ),
  );
  // Column blocks vary fastest when A is the larger operand (see matmul_tex.wgsl ROWS_FAST).
  const rowsFast = d.m <= d.n;
  const pipe = pipeline(cfg, ta, tb, rowsFast, !!bias, d.n % 4 === 0);
  const name = kernelName(cfg, ta, tb);
  const texture = (o: Operand, nb: number) =>
    acquireTexture(
      texWidth(o),
      bucket(o.h, 4),
      bucket((o.batched ? nb : 1) * o.chunks, 1),
    );
  for (let b0 = 0; b0 < nbTotal; b0 += perGroup) {
    const nb = Math.min(perGroup, nbTotal - b0);
    const texA = texture(p.a, nb);
    const texB = texture(p.b, nb);
    try {
      const bytes = limits.bindingBytes ?? dev.maxBinding;
      fillTexture(texA, a, p.a, b0, nb, bytes);
      fillTexture(texB, b, p.b, b0, nb, bytes);
      const params = packParams([
        d.m,
        d.n,
        Math.ceil(d.k / 4),
        p.kStep4,
        p.kChunks,
        p.a.chunks,
        p.b.chunks,
        p.a.h,
        p.b.h,
        b0,
        d.aBatched ? 0 : 1,
        d.bBatched ? 0 : 1,
      ]);
      // Grid x, y: row and column blocks (the one of the larger operand first), z: batch
      // entries x row chunks of A (when A's rows are m).
      const rowBlocks = (ta ? roundUp(d.m, cfg.R) : p.a.h) / cfg.R;
      const colBlocks = Math.ceil(Math.ceil(d.n / 4) / (cfg.WX * cfg.C4));
      const [gx, gy] = rowsFast ? [rowBlocks, colBlocks] : [colBlocks, rowBlocks];
      const gz = nb * (ta ? 1 : p.a.chunks);
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
          {
            binding: 4,
            resource: bias
              ? { buffer: bias.buffer, size: Math.max(16, roundUp(bias.bytes, 16)) }
              : { buffer: zeroBuffer(16), size: 16 },
          },
        ],
      });
      dev.scoped("matmul_tex", () => {
        const pass = computePass(name);
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
