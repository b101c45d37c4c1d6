/**
 * The one WebGPU device Sinter uses: requested with the adapter's own limits, with
 * validation errors and device loss turned into exceptions that name the kernel.
 *
 * Environment variables (all optional):
 * - `DENO_WEBGPU_BACKEND`: Deno's own backend choice (`vulkan`, `gl`, `metal`, `dx12`).
 * - `SINTER_POWER_PREFERENCE`: `high-performance` (default) or `low-power`.
 * - `SINTER_FORCE_FALLBACK`: `1` asks for the fallback (software) adapter.
 * - `SINTER_DEBUG`: `1` wraps every dispatch in an error scope, so a validation error names
 *   the exact kernel instead of the last one dispatched before the next sync point.
 * - `SINTER_F16`: `0` disables `shader-f16` even where the adapter has it.
 *
 * @module
 */

/** What `sinter doctor` prints and kernels consult when choosing variants. */
export interface AdapterReport {
  /** Adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor id or name as the adapter reports it. */
  vendor: string;
  /** Architecture string, often empty on software adapters. */
  architecture: string;
  /** Backend in use, from `DENO_WEBGPU_BACKEND` or "default". */
  backend: string;
  /** True when the adapter is a CPU rasterizer (llvmpipe / lavapipe / SwiftShader / WARP). */
  software: boolean;
  /** Whether `shader-f16` is available and enabled. */
  f16: boolean;
  /** All features the adapter offers. */
  features: string[];
  /** The limits the device was requested with (the adapter's own). */
  limits: Record<string, number>;
}

/** Thrown when no WebGPU adapter exists; the message says how to get one. */
export class NoAdapterError extends Error {
  constructor() {
    super(
      "No WebGPU adapter found. Sinter needs a GPU driver (Vulkan, Metal or D3D12) or a " +
        "software adapter. On Debian/Ubuntu install Mesa's lavapipe: " +
        "`sudo apt-get install mesa-vulkan-drivers libvulkan1`, then run with " +
        "`DENO_WEBGPU_BACKEND=vulkan LP_NUM_THREADS=$(nproc)`. Check with `deno task doctor`.",
    );
    this.name = "NoAdapterError";
  }
}

/** A GPU error (validation, out-of-memory, device loss) with the kernel that caused it. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** The process-wide device wrapper. Get it with {@link getDevice}. */
export class Device {
  /** The raw WebGPU device. */
  readonly gpu: GPUDevice;
  /** Adapter facts. */
  readonly report: AdapterReport;
  /** Set when the device is lost; every later use throws. */
  lost: GPUDeviceLostInfo | null = null;
  /** Per-dispatch error scopes (SINTER_DEBUG=1). */
  readonly debug: boolean;
  #errors: GpuError[] = [];
  #scopes: Promise<void>[] = [];
  /** Name of the last kernel encoded: blamed for errors that arrive without a scope. */
  lastKernel = "(none)";

  constructor(gpu: GPUDevice, report: AdapterReport, debug: boolean) {
    this.gpu = gpu;
    this.report = report;
    this.debug = debug;
    gpu.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.#errors.push(
        new GpuError(
          `WebGPU error after kernel '${this.lastKernel}': ${err.message} ` +
            "(set SINTER_DEBUG=1 to pin it to the exact kernel)",
        ),
      );
    });
    gpu.lost.then((info) => {
      this.lost = info;
    });
  }

  /** Throws if the device was lost; call before encoding work. */
  assertAlive(): void {
    if (this.lost) {
      throw new GpuError(
        `GPU device lost (${this.lost.reason}): ${this.lost.message}. ` +
          "Restart the process; training resumes from the last checkpoint with resume_interrupted=true.",
      );
    }
  }

  /** Runs `fn` inside a validation error scope when debugging; errors name `label`. */
  scoped<T>(label: string, fn: () => T): T {
    this.assertAlive();
    this.lastKernel = label;
    if (!this.debug) return fn();
    this.gpu.pushErrorScope("validation");
    this.gpu.pushErrorScope("out-of-memory");
    const out = fn();
    const done = Promise.all([this.gpu.popErrorScope(), this.gpu.popErrorScope()]).then(
      (errs) => {
        for (const e of errs) {
          if (e) this.#errors.push(new GpuError(`kernel '${label}': ${e.message}`));
        }
      },
    );
    this.#scopes.push(done);
    return out;
  }

  /** Records an error found synchronously (e.g. a compile error) to be thrown at the next check. */
  pushError(e: GpuError): void {
    this.#errors.push(e);
  }

  /** Throws the first pending GPU error, if any. Awaits open error scopes first. */
  async check(): Promise<void> {
    if (this.#scopes.length) {
      const s = this.#scopes;
      this.#scopes = [];
      await Promise.all(s);
    }
    this.assertAlive();
    if (this.#errors.length) {
      const [first, ...rest] = this.#errors;
      this.#errors = [];
      if (rest.length) first.message += ` (+${rest.length} more GPU errors)`;
      throw first;
    }
  }

  /** The largest size of one storage-buffer binding, in bytes. */
  get maxBinding(): number {
    return this.gpu.limits.maxStorageBufferBindingSize;
  }
}

let devicePromise: Promise<Device> | null = null;

/** Reads an environment variable; without --allow-env it counts as unset. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function isSoftware(desc: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|warp|software/i.test(desc);
}

async function createDevice(): Promise<Device> {
  if (!("gpu" in navigator) || !navigator.gpu) throw new NoAdapterError();
  // Mesa's llvmpipe/lavapipe rasterize on one thread unless told otherwise; it reads this
  // variable when the adapter is created, so setting it here (if the user did not) is enough.
  try {
    if (!readEnv("LP_NUM_THREADS")) {
      Deno.env.set("LP_NUM_THREADS", String(navigator.hardwareConcurrency || 1));
    }
  } catch {
    // Without --allow-env the software adapter runs on one core; nothing else changes.
  }
  const power = readEnv("SINTER_POWER_PREFERENCE") as GPUPowerPreference | undefined;
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: power ?? "high-performance",
    forceFallbackAdapter: readEnv("SINTER_FORCE_FALLBACK") === "1",
  });
  if (!adapter) throw new NoAdapterError();
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") limits[key] = v;
  }
  const features = [...adapter.features] as string[];
  const wantF16 = features.includes("shader-f16") && readEnv("SINTER_F16") !== "0";
  const required: GPUFeatureName[] = [];
  if (wantF16) required.push("shader-f16");
  if (features.includes("timestamp-query")) required.push("timestamp-query");
  const gpu = await adapter.requestDevice({ requiredLimits: limits, requiredFeatures: required });
  const info = adapter.info;
  const report: AdapterReport = {
    description: info.description || info.device || "unknown",
    vendor: info.vendor,
    architecture: info.architecture,
    backend: readEnv("DENO_WEBGPU_BACKEND") ?? "default (Vulkan first where a driver exists)",
    software: isSoftware(info.description ?? "") || adapter.info.isFallbackAdapter === true,
    f16: wantF16,
    features,
    limits,
  };
  return new Device(gpu, report, readEnv("SINTER_DEBUG") === "1");
}

/** Returns the process-wide device, creating it on first use. */
export function getDevice(): Promise<Device> {
  if (!devicePromise) {
    devicePromise = createDevice();
    devicePromise.catch(() => {
      devicePromise = null;
    });
  }
  return devicePromise;
}

let current: Device | null = null;

/** Initializes the device (once) and makes it current for synchronous op code. */
export async function initDevice(): Promise<Device> {
  current = await getDevice();
  return current;
}

/** The current device for synchronous op code; throws if {@link initDevice} was not awaited. */
export function device(): Device {
  if (!current) {
    throw new GpuError("No device: call `await initDevice()` before running any op.");
  }
  return current;
}
