/**
 * The one module that loads `sharp` (libvips, prebuilt binaries shipped through npm). It is
 * imported lazily, so modules that only list files need no extra permission; decoding needs
 * `--allow-ffi` (sharp is a Node-API addon), `--allow-read` (the addon and libc detection) and
 * `--allow-env` (sharp reads a few `npm_config_*` / `SHARP_*` variables). No `nodeModulesDir`
 * is needed: sharp 0.34 has no install step that matters (its binaries come from the
 * `@img/sharp-<platform>` optional dependencies).
 *
 * @module
 */
import type sharpType from "npm:sharp@0.34";

/** The sharp factory function. */
export type Sharp = typeof sharpType;

let loaded: Promise<Sharp> | undefined;

/** The permissions decoding needs, for error messages and docs. */
export const SHARP_PERMISSIONS = "--allow-ffi --allow-read --allow-env";

/** Returns sharp, loading it on first use; throws an error that names the missing flag. */
export function loadSharp(): Promise<Sharp> {
  loaded ??= (async () => {
    const ffi = await Deno.permissions.query({ name: "ffi" });
    if (ffi.state !== "granted") {
      throw new Error(
        `image decoding uses sharp (libvips), a native addon: run with ${SHARP_PERMISSIONS}`,
      );
    }
    const mod = await import("npm:sharp@0.34");
    const sharp = mod.default as Sharp;
    // libvips caches decoded files/operations by default; a loader touches each file once per
    // epoch, so the cache only costs memory.
    sharp.cache(false);
    return sharp;
  })();
  loaded.catch(() => loaded = undefined);
  return loaded;
}
