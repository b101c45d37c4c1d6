/**
 * Which matmul kernel runs on which adapter, from a small table measured by `deno task bench`
 * (bench/results/*.json), not guessed. `SINTER_MATMUL=direct|tiled|tex` forces one kernel
 * (where it can run), as does {@link forceMatmulKernel}.
 *
 * @module
 */
import { device, readEnv } from "../core/device.ts";
import { texMatmulSupported } from "./matmul_tex.ts";

/** The dims of a (batched) product `op(a) @ op(b)`. */
export interface MatmulDims {
  /** Batch dims of the output. */
  batch: number[];
  /** Rows of op(a) and of the output. */
  m: number;
  /** Columns of op(b) and of the output. */
  n: number;
  /** The inner dim. */
  k: number;
  /** Whether `a` has batch dims (else it is 2-D and shared by every batch). */
  aBatched: boolean;
  /** Whether `b` has batch dims. */
  bBatched: boolean;
}

/** The matmul kernels. */
export type MatmulKernel =
  /** 4x4 register block per invocation reading storage buffers (kernels/matmul.wgsl). */
  | "direct"
  /** Workgroup-memory tiled 64x64 tile, 4x4 per invocation (kernels/matmul_tiled.wgsl). */
  | "tiled"
  /** Operands packed into rgba32float textures, 16x16 register block (kernels/matmul_tex.wgsl). */
  | "tex";

/** Every kernel name, for benches and tests. */
export const MATMUL_KERNELS: readonly MatmulKernel[] = ["direct", "tiled", "tex"];

/**
 * The selection table. On a software adapter `tex` wins once the product has enough work to
 * pay for packing its operands into textures (about 0.2 ms per op): below `texMinFlop`
 * (2*m*n*k summed over the batch; the crossover measured at 48^3..64^3) and for shapes the
 * textures cannot hold, `direct` runs. Measured on lavapipe (LLVM 15, 2 cores) by
 * bench/main.ts (its `selection` section); see bench/README.md. Hardware adapters get the
 * workgroup-memory tiled kernel (not measured here: no hardware GPU was available, so this row
 * is the textbook choice and should be re-measured with `deno task bench` on one).
 */
export const MATMUL_TABLE = {
  software: { texMinFlop: 2 ** 18, small: "direct" as MatmulKernel },
  hardware: { kernel: "tiled" as MatmulKernel },
};

let forced: MatmulKernel | null = null;

/** Forces one kernel for every matmul (null restores the table); for benches and tests. */
export function forceMatmulKernel(k: MatmulKernel | null): void {
  forced = k;
}

let fromEnv: MatmulKernel | null | undefined;

function envKernel(): MatmulKernel | null {
  if (fromEnv === undefined) {
    const v = readEnv("SINTER_MATMUL"); // no env permission: use the table
    fromEnv = v && (MATMUL_KERNELS as readonly string[]).includes(v) ? v as MatmulKernel : null;
  }
  return fromEnv;
}

/** Whether kernel `k` can run the product `d` on the current device. */
export function matmulKernelSupported(k: MatmulKernel, d: MatmulDims): boolean {
  return k !== "tex" || texMatmulSupported(d);
}

/** The kernel for the product `d` on the current adapter. */
export function selectMatmul(d: MatmulDims): MatmulKernel {
  const want = forced ?? envKernel();
  if (want) return matmulKernelSupported(want, d) ? want : "direct";
  if (!device().report.software) return MATMUL_TABLE.hardware.kernel;
  const nb = d.batch.reduce((x, y) => x * y, 1);
  const flop = 2 * d.m * d.n * d.k * nb;
  if (flop >= MATMUL_TABLE.software.texMinFlop && texMatmulSupported(d)) return "tex";
  return MATMUL_TABLE.software.small;
}
