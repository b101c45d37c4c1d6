/**
 * Loads refdata cases (`ssl-refdata/1`): the folder is `../shared/refdata/cases` beside the
 * repository, or `SINTER_REFDATA` when set.
 *
 * @module
 */

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
}

/** The case folder in use. */
export function refdataDir(): string {
  const env = Deno.env.get("SINTER_REFDATA");
  if (env) return env;
  return new URL("../../../shared/refdata/cases", import.meta.url).pathname;
}

// deno-lint-ignore no-explicit-any
function toTensor(t: any): RefTensor {
  const data = t.dtype === "float32"
    ? Float32Array.from(t.data as number[])
    : Int32Array.from(t.data as number[]);
  const n = (t.shape as number[]).reduce((a: number, b: number) => a * b, 1);
  if (data.length !== n) throw new Error(`tensor data length ${data.length} != shape ${t.shape}`);
  return { shape: t.shape, dtype: t.dtype, data, role: t.role, requiresGrad: t.requires_grad };
}

// deno-lint-ignore no-explicit-any
function mapTensors(o: Record<string, any> | undefined): Record<string, RefTensor> {
  const out: Record<string, RefTensor> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[k] = toTensor(v);
  return out;
}

/** Lists the cases: from index.json when present, else every *.json in the folder. */
export function listCases(dir = refdataDir()): RefIndexEntry[] {
  try {
    const idx = JSON.parse(Deno.readTextFileSync(`${dir}/index.json`));
    return (idx.cases as RefIndexEntry[]).map((c) => ({ ...c, file: c.file ?? `${c.name}.json` }));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const out: RefIndexEntry[] = [];
  for (const f of Deno.readDirSync(dir)) {
    if (!f.name.endsWith(".json") || f.name === "index.json") continue;
    const c = JSON.parse(Deno.readTextFileSync(`${dir}/${f.name}`));
    out.push({ name: c.name, op: c.op, group: c.group, file: f.name });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Loads one case file. */
export function loadCase(entry: RefIndexEntry, dir = refdataDir()): RefCase {
  const c = JSON.parse(Deno.readTextFileSync(`${dir}/${entry.file}`));
  return {
    name: c.name,
    op: c.op,
    group: c.group,
    parameters: c.parameters ?? {},
    inputs: mapTensors(c.inputs),
    outputs: mapTensors(c.outputs),
    gradWeights: mapTensors(c.grad_weights),
    gradients: mapTensors(c.gradients),
    rtol: c.tolerance.rtol,
    atol: c.tolerance.atol,
  };
}
