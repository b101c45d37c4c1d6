/**
 * YAML behind one module (js-yaml 4 from npm; JSR's `@std/yaml` is not reachable where this
 * is built), so switching parsers is a one-file change.
 *
 * @module
 */
// @ts-types="npm:@types/js-yaml@4"
import yaml from "npm:js-yaml@4";

/** Parses YAML text (core schema: `null`, numbers, lists, maps). Throws with `source` on errors. */
export function parseYaml(text: string, source = "yaml"): unknown {
  try {
    return yaml.load(text, { filename: source });
  } catch (e) {
    throw new Error(`${source}: invalid YAML: ${(e as Error).message}`);
  }
}

/** Writes a value as YAML (for logs and resolved-configuration dumps). */
export function toYaml(value: unknown): string {
  return yaml.dump(value, { lineWidth: 100, noRefs: true, flowLevel: 3 });
}
