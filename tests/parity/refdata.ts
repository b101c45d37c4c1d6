/**
 * Loads refdata cases (`ssl-refdata/1`): the folder is `../shared/refdata/cases` beside the
 * repository, or `SINTER_REFDATA` when set.
 *
 * @module
 */
import { loadSafetensors, type SafeFile } from "../../models/safetensors.ts";

/** One tensor of a case, with its numbers as exact float32 / int32. */
export interface RefTensor {
  /** Shape ([] for a scalar). */
  shape: number[];
  /** Stored dtype. */
  dtype: string;
  /** Values: Float32Array for float32, Int32Array for integer and bool dtypes. */
  data: Float32Array | Int32Array;
  /** Role of an input (input, parameter, buffer, target, mask, grad, state). */
  role?: string;
  /** Whether a gradient is given for this input. */
  requiresGrad?: boolean;
}

/** A loaded case. */
export interface RefCase {
  /** Folder the case came from (weights files named in `parameters` are relative to it). */
  dir: string;
  /** Case id. */
  name: string;
  /** Operation id. */
  op: string;
  /** ops, losses, optim, models, transforms. */
  group: string;
  /** Hyper-parameters. */
  parameters: Record<string, unknown>;
  /** Inputs by name. */
  inputs: Record<string, RefTensor>;
  /** Reference outputs by name. */
  outputs: Record<string, RefTensor>;
  /** Weights of the scalar L whose gradient is given. */
  gradWeights: Record<string, RefTensor>;
  /** dL/d input by input name. */
  gradients: Record<string, RefTensor>;
  /** Tolerance of this case. */
  rtol: number;
  /** Tolerance of this case (relative to the tensor's max magnitude). */
  atol: number;
}

/** Index entry. */
export interface RefIndexEntry {
  /** Case id. */
  name: string;
  /** Operation id. */
  op: string;
  /** Group. */
  group: string;
  /** File name in the folder. */
  file: string;
  /** Folder of the case (set by {@link listCases}). */
  dir?: string;
}

/** The case folder in use: `SINTER_REFDATA`, else `../shared/refdata/cases` beside the repo. */
export function refdataDir(): string {
  const env = Deno.env.get("SINTER_REFDATA");
  if (env) return env;
  return new URL("../../../shared/refdata/cases", import.meta.url).pathname;
}

/** The model fixture folder: `SINTER_MODEL_FIXTURES`, else `../shared/refdata/models`. */
export function modelFixturesDir(): string {
  const env = Deno.env.get("SINTER_MODEL_FIXTURES");
  if (env) return env;
  return new URL("../../../shared/refdata/models", import.meta.url).pathname;
}

type Files = Map<string, SafeFile>;

// deno-lint-ignore no-explicit-any
async function toTensor(t: any, dir: string, files: Files): Promise<RefTensor> {
  let raw: ArrayLike<number | bigint>;
  if (t.data_file) {
    let f = files.get(t.data_file);
    if (!f) files.set(t.data_file, f = await loadSafetensors(`${dir}/${t.data_file}`));
    raw = f.get(t.data_key).data as ArrayLike<number | bigint>;
  } else raw = t.data as number[];
  const data = t.dtype === "float32"
    ? Float32Array.from(raw as ArrayLike<number>)
    : Int32Array.from(raw as ArrayLike<number | bigint>, Number);
  const n = (t.shape as number[]).reduce((a: number, b: number) => a * b, 1);
  if (data.length !== n) throw new Error(`tensor data length ${data.length} != shape ${t.shape}`);
  return { shape: t.shape, dtype: t.dtype, data, role: t.role, requiresGrad: t.requires_grad };
}

async function mapTensors(
  // deno-lint-ignore no-explicit-any
  o: Record<string, any> | undefined,
  dir: string,
  files: Files,
): Promise<Record<string, RefTensor>> {
  const out: Record<string, RefTensor> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[k] = await toTensor(v, dir, files);
  return out;
}

/** Lists the cases: from index.json when present, else every *.json in the folder. */
export function listCases(dir = refdataDir()): RefIndexEntry[] {
  try {
    const idx = JSON.parse(Deno.readTextFileSync(`${dir}/index.json`));
    return (idx.cases as RefIndexEntry[]).map((c) => ({
      ...c,
      file: c.file ?? `${c.name}.json`,
      dir,
    }));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const out: RefIndexEntry[] = [];
  for (const f of Deno.readDirSync(dir)) {
    if (!f.name.endsWith(".json") || f.name === "index.json") continue;
    const c = JSON.parse(Deno.readTextFileSync(`${dir}/${f.name}`));
    out.push({ name: c.name, op: c.op, group: c.group, file: f.name, dir });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Loads one case file; tensors stored in safetensors files (model fixtures) are read too. */
export async function loadCase(
  entry: RefIndexEntry,
  dir = entry.dir ?? refdataDir(),
): Promise<RefCase> {
  const c = JSON.parse(Deno.readTextFileSync(`${dir}/${entry.file}`));
  const files: Files = new Map();
  return {
    dir,
    name: c.name,
    op: c.op,
    group: c.group,
    parameters: c.parameters ?? {},
    inputs: await mapTensors(c.inputs, dir, files),
    outputs: await mapTensors(c.outputs, dir, files),
    gradWeights: await mapTensors(c.grad_weights, dir, files),
    gradients: await mapTensors(c.gradients, dir, files),
    rtol: c.tolerance.rtol,
    atol: c.tolerance.atol,
  };
}
