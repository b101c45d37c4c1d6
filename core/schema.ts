/**
 * A small strict schema for configuration trees: typed leaves, nullable sections with the
 * defaults a section gets when it is switched on, and errors that name the full key path and
 * the nearest valid key.
 *
 * @module
 */

/** A leaf or a section of a schema. */
export type Field =
  | { kind: "number"; min?: number; max?: number; nullable?: boolean; default?: unknown }
  | { kind: "int"; min?: number; nullable?: boolean; default?: unknown }
  | { kind: "range"; min?: number; nullable?: boolean; default?: unknown }
  | { kind: "size"; nullable?: boolean; default?: unknown }
  | { kind: "list"; positive?: boolean; nullable?: boolean; default?: unknown }
  | { kind: "enum"; values: readonly string[]; nullable?: boolean; default?: unknown }
  | { kind: "intOrRange"; nullable?: boolean; default?: unknown }
  | { kind: "intOrAuto"; min?: number; nullable?: boolean; default?: unknown }
  | { kind: "section"; fields: Record<string, Field>; nullable?: boolean; default?: unknown }
  | { kind: "string"; nullable?: boolean; default?: unknown }
  | { kind: "strings"; nullable?: boolean; default?: unknown }
  | { kind: "bool"; nullable?: boolean; default?: unknown; optional?: boolean }
  | { kind: "map"; nullable?: boolean; default?: unknown };

/** A configuration error (bad key or value), with the key path in the message. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** The valid key closest to `key`. */
export function nearestKey(key: string, valid: readonly string[]): string {
  let best = valid[0], bd = Infinity;
  for (const v of valid) {
    const d = editDistance(key, v);
    if (d < bd) [best, bd] = [v, d];
  }
  return best;
}

/** Throws the unknown-key error for `path` + `key` among `valid`. */
export function unknownKey(path: string, key: string, valid: readonly string[]): never {
  throw new ConfigError(
    `${path ? path + "." : ""}${key}: unknown key; did you mean '${nearestKey(key, valid)}'? ` +
      `(valid keys${path ? " of " + path : ""}: ${valid.join(", ")})`,
  );
}

/** Whether `v` is a plain object (a YAML map). */
export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value a section gets when switched on: its fields' defaults (required ones absent). */
export function sectionTemplate(f: Field & { kind: "section" }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(f.fields)) {
    if (sub.default !== undefined) out[k] = structuredClone(sub.default);
  }
  return out;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v);

function fail(path: string, what: string, v: unknown): never {
  throw new ConfigError(`${path}: expected ${what}, got ${JSON.stringify(v)}`);
}

/**
 * Validates `v` against `f` and returns a normalized copy. Every key of a section must be
 * present (a section that was switched on has its defaults filled in before this runs), except
 * `optional` ones (Sinter extensions), which take their default.
 */
export function validate(path: string, f: Field, v: unknown): unknown {
  if (v === null || v === undefined) {
    if (v === null && f.nullable) return null;
    throw new ConfigError(`${path}: ${v === null ? "may not be null" : "missing required key"}`);
  }
  switch (f.kind) {
    case "number":
      if (!isNum(v)) fail(path, "a number", v);
      if (f.min !== undefined && v < f.min) fail(path, `a number >= ${f.min}`, v);
      if (f.max !== undefined && v > f.max) fail(path, `a number <= ${f.max}`, v);
      return v;
    case "int":
      if (!isInt(v) || (f.min !== undefined && v < f.min)) {
        fail(path, `an integer >= ${f.min ?? "-inf"}`, v);
      }
      return v;
    case "range":
      if (!Array.isArray(v) || v.length !== 2 || !v.every(isNum) || v[0] > v[1]) {
        fail(path, "a range [lo, hi] with lo <= hi", v);
      }
      if (f.min !== undefined && v[0] < f.min) fail(path, `a range with lo >= ${f.min}`, v);
      return [v[0], v[1]];
    case "size":
      if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => isInt(d) && d >= 1)) {
        fail(path, "a size [height, width] of positive integers", v);
      }
      return [v[0], v[1]];
    case "list":
      if (
        !Array.isArray(v) || !v.length || !v.every(isNum) || (f.positive && v.some((x) => x <= 0))
      ) {
        fail(path, `a non-empty list of ${f.positive ? "positive " : ""}numbers`, v);
      }
      return [...v];
    case "enum":
      if (typeof v !== "string" || !f.values.includes(v)) fail(path, f.values.join(" | "), v);
      return v;
    case "intOrRange":
      if (isInt(v) && v >= 0) return v;
      if (
        Array.isArray(v) && v.length === 2 && v.every((x) => isInt(x) && x >= 0) && v[0] <= v[1]
      ) {
        return [v[0], v[1]];
      }
      return fail(path, "an integer >= 0 or a range [lo, hi] of integers", v);
    case "intOrAuto":
      if (v === "auto" || (isInt(v) && v >= (f.min ?? 1))) return v;
      return fail(path, `"auto" or an integer >= ${f.min ?? 1}`, v);
    case "string":
      if (typeof v !== "string" || v === "") fail(path, "a non-empty string", v);
      return v;
    case "strings":
      if (typeof v === "string" && v !== "") return v;
      if (Array.isArray(v) && v.length && v.every((x) => typeof x === "string" && x !== "")) {
        return [...v];
      }
      return fail(path, "a string or a non-empty list of strings", v);
    case "bool":
      if (typeof v !== "boolean") fail(path, "true or false", v);
      return v;
    case "map":
      if (!isMap(v)) fail(path, "a map", v);
      return structuredClone(v);
    case "section": {
      if (!isMap(v)) fail(path, "a map", v);
      const out: Record<string, unknown> = {};
      const valid = Object.keys(f.fields);
      for (const k of Object.keys(v)) if (!(k in f.fields)) unknownKey(path, k, valid);
      for (const [k, sub] of Object.entries(f.fields)) {
        // Sinter extensions are optional, so LightlyTrain configurations stay complete without them.
        const given = v[k] === undefined && "optional" in sub && sub.optional ? sub.default : v[k];
        out[k] = validate(`${path}.${k}`, sub, given);
      }
      return out;
    }
  }
}
