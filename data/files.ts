/**
 * Finding the images of a dataset, as LightlyTrain does: a folder walked recursively
 * (symlinks followed, cycles skipped), or a list of files and folders. Filenames are relative
 * to the folder they were found in (posix separators) and sorted by code unit, so the order is
 * the same on every machine and every run.
 *
 * @module
 */

/** File extensions accepted as images (lower case; matching ignores case). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".bmp",
  ".webp",
  ".tif",
  ".tiff",
  ".pgm",
  ".ppm",
  ".pbm",
  ".pnm",
  ".gif",
];

/** An error in the dataset definition (missing folder, no images, bad entry). */
export class DataError extends Error {
  override name = "DataError";
}

/** One image of a dataset. */
export interface ImageFile {
  /** Path to open (absolute, or as given for list entries). */
  path: string;
  /** Stable name: relative to the data folder, posix separators. */
  name: string;
}

/** The images of a dataset, in stable order. */
export interface ImageList {
  /** The data folder when `data` was one folder, else `null`. */
  root: string | null;
  /** The images, sorted by name. */
  files: ImageFile[];
  /** Non-fatal problems met while walking (unreadable sub-folders, broken links, cycles). */
  warnings: string[];
}

/** Options of {@link listImages}. */
export interface ListOptions {
  /** Accepted extensions (with the dot); default {@link IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
}

/** Whether `path` has one of `extensions` (case-insensitive). */
export function hasImageExtension(
  path: string,
  extensions: readonly string[] = IMAGE_EXTENSIONS,
): boolean {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dot = path.lastIndexOf(".");
  if (dot <= slash + 1) return false; // no extension, or a dot file like ".png"
  return extensions.includes(path.slice(dot).toLowerCase());
}

function join(a: string, b: string): string {
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

function toPosix(p: string): string {
  return Deno.build.os === "windows" ? p.replaceAll("\\", "/") : p;
}

function absolute(p: string): string {
  if (p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p)) return p;
  return join(Deno.cwd(), p);
}

function describe(extensions: readonly string[]): string {
  return extensions.map((e) => e.slice(1)).join(", ");
}

/** `Deno.stat(path)`, or null when nothing is there (other errors are thrown). */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Walks `dir` recursively, following symlinks; a directory whose real path is already on the
 * current branch (a link cycle) is skipped with a warning. A directory reached twice through
 * different links (no cycle) is listed twice under both names, as `os.walk` does.
 */
async function walk(
  dir: string,
  prefix: string,
  ancestors: Set<string>,
  exts: readonly string[],
  out: ImageFile[],
  warnings: string[],
): Promise<void> {
  let real: string;
  try {
    real = await Deno.realPath(dir);
  } catch (e) {
    warnings.push(`cannot resolve ${dir}: ${(e as Error).message}`);
    return;
  }
  if (ancestors.has(real)) {
    warnings.push(`symlink cycle skipped: ${dir} -> ${real}`);
    return;
  }
  ancestors.add(real);
  try {
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(dir)) entries.push(e);
    } catch (e) {
      if (!prefix) throw e; // the data folder itself: the caller reports it
      warnings.push(`cannot read folder ${dir}: ${(e as Error).message}`);
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      let isDir = e.isDirectory, isFile = e.isFile;
      if (e.isSymlink) {
        const info = await statOrNull(path).catch(() => null);
        if (!info) {
          warnings.push(`broken symlink skipped: ${path}`);
          continue;
        }
        isDir = info.isDirectory;
        isFile = info.isFile;
      }
      if (isDir) await walk(path, name, ancestors, exts, out, warnings);
      else if (isFile && hasImageExtension(e.name, exts)) out.push({ path, name });
    }
  } finally {
    ancestors.delete(real);
  }
}

function byName(a: ImageFile, b: ImageFile): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Lists the images of `data`: one folder (walked recursively; names relative to it), or a
 * list whose entries are image files (kept as given, existence checked when decoded, as
 * LightlyTrain does) or folders (walked; names are the entry joined with the relative path).
 * Throws {@link DataError} for a missing folder, an entry that is neither, or no images at all
 * (naming the folder and the accepted extensions).
 */
export async function listImages(
  data: string | readonly string[],
  opts: ListOptions = {},
): Promise<ImageList> {
  const exts = opts.extensions ?? IMAGE_EXTENSIONS;
  const warnings: string[] = [];
  const files: ImageFile[] = [];
  const single = typeof data === "string";
  const entries = single ? [data] : [...data];
  if (!entries.length) throw new DataError("no data given: expected a folder or a list of paths");
  let root: string | null = null;
  for (const entry of entries) {
    const info = await statOrNull(entry);
    if (info?.isDirectory) {
      const dir = absolute(entry);
      if (single) root = dir;
      const found: ImageFile[] = [];
      try {
        await walk(dir, "", new Set(), exts, found, warnings);
      } catch (e) {
        throw new DataError(`cannot read data folder ${entry}: ${(e as Error).message}`);
      }
      const base = toPosix(entry).replace(/\/+$/, "");
      for (const f of found) files.push(single ? f : { path: f.path, name: `${base}/${f.name}` });
      if (!single && !found.length) {
        warnings.push(`folder ${entry} has no images (accepted: ${describe(exts)})`);
      }
    } else if (hasImageExtension(entry, exts) && (info === null || info.isFile)) {
      files.push({ path: absolute(entry), name: toPosix(entry) });
    } else if (info === null) {
      throw new DataError(
        single ? `data folder not found: ${entry}` : `data entry not found: ${entry}`,
      );
    } else {
      throw new DataError(
        `data entry ${entry} is neither a folder nor an image file (accepted: ${describe(exts)})`,
      );
    }
  }
  if (!files.length) {
    const where = single ? `folder ${data}` : `entries ${entries.join(", ")}`;
    throw new DataError(
      `no images found in ${where} (searched recursively; accepted extensions: ${describe(exts)})`,
    );
  }
  files.sort(byName);
  const seen = new Set<string>();
  const unique = files.filter((f) => !seen.has(f.path) && seen.add(f.path));
  return { root, files: unique, warnings };
}
