/**
 * The Sinter command line: `deno run <permissions> cli.ts <command> key=value ...`.
 *
 * Commands so far: `doctor` (adapter, backend, limits, features), `help`.
 *
 * @module
 */
import { getDevice, NoAdapterError, readEnv } from "./core/device.ts";

const HELP = `sinter: self-supervised pretraining on WebGPU

usage: deno run <permissions> cli.ts <command> [key=value ...]

commands:
  doctor [json=true]   show the WebGPU adapter, backend, limits and features
  help                 this text

permissions: doctor needs --allow-env (reads SINTER_* and DENO_WEBGPU_BACKEND, sets LP_NUM_THREADS).
environment: DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12 picks the backend;
  SINTER_POWER_PREFERENCE=low-power|high-performance; SINTER_FORCE_FALLBACK=1;
  SINTER_DEBUG=1 (per-kernel error scopes); SINTER_F16=0 (disable shader-f16).
`;

/** Parses `key=value` arguments (values kept as strings). */
export function parseKeyValues(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf("=");
    if (i <= 0) throw new Error(`argument '${a}' is not key=value`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

/** `doctor`: prints the adapter report; returns the process exit code. */
export async function doctor(args: Record<string, string>): Promise<number> {
  for (const k of Object.keys(args)) {
    if (k !== "json") throw new Error(`doctor: unknown key '${k}' (valid: json)`);
  }
  let dev;
  try {
    dev = await getDevice();
  } catch (e) {
    if (e instanceof NoAdapterError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const r = dev.report;
  if (args.json === "true") {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  console.log(
    `adapter:  ${r.description} (vendor ${r.vendor}${r.architecture ? ", " + r.architecture : ""})`,
  );
  console.log(`backend:  ${r.backend}${r.software ? " (software adapter: CPU rasterizer)" : ""}`);
  console.log(`threads:  LP_NUM_THREADS=${readEnv("LP_NUM_THREADS") ?? "(unset)"}`);
  console.log(`f16:      ${r.f16 ? "shader-f16 available" : "no shader-f16 (fp32 only)"}`);
  console.log(`features: ${r.features.join(", ")}`);
  console.log("limits:");
  for (const [k, v] of Object.entries(r.limits)) console.log(`  ${k.padEnd(42)} ${v}`);
  if (r.software) {
    console.log(
      "note: this is a software adapter; training runs on the CPU. A real GPU driver " +
        "(Vulkan/Metal/D3D12) is much faster.",
    );
  }
  return 0;
}

/** Runs a CLI invocation; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "doctor":
        return await doctor(parseKeyValues(rest));
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(HELP);
        return 0;
      default:
        console.error(`unknown command '${cmd}'. Commands: doctor, help.`);
        return 2;
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
