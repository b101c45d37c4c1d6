/**
 * Atomic file replacement: write a temporary file beside the target, sync it, rename it over
 * the target. Readers see the old file or the new one, never a half-written one.
 *
 * @module
 */

/**
 * Writes `data` to `path` atomically (temp file in the same directory, fsync, rename). On
 * failure the temp file is removed, the old `path` is left as it was, and the error is
 * rethrown with the path in its message.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const name = path.slice(slash + 1);
  const tmp = `${dir}.${name}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncDataSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // no temp file left
    }
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`could not write ${path} atomically: ${msg}`, { cause: e });
  }
}
