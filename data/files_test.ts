import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { DataError, hasImageExtension, listImages } from "./files.ts";
import { touch, withTempDir } from "./fixtures_test.ts";

Deno.test("listImages: nested folders, extensions (any case), sorted relative names", async () => {
  await withTempDir(async (dir) => {
    for (const f of ["b.png", "a/z.JPG", "a/b/c.webp", "a/b/notes.txt", "A.tif", "x.jpeg", "y"]) {
      await touch(`${dir}/${f}`);
    }
    await touch(`${dir}/.png`); // a dot file, not an image
    const list = await listImages(dir);
    deepStrictEqual(list.files.map((f) => f.name), [
      "A.tif",
      "a/b/c.webp",
      "a/z.JPG",
      "b.png",
      "x.jpeg",
    ]);
    strictEqual(list.root, dir);
    strictEqual(list.files[3].path, `${dir}/b.png`);
    const again = await listImages(`${dir}/`);
    deepStrictEqual(again.files.map((f) => f.name), list.files.map((f) => f.name));
  });
});

Deno.test("listImages: follows symlinks, skips cycles and broken links with warnings", async () => {
  await withTempDir(async (dir) => {
    await touch(`${dir}/data/real/one.png`);
    await touch(`${dir}/outside/two.bmp`);
    await touch(`${dir}/outside/three.ppm`);
    await Deno.symlink(`${dir}/outside`, `${dir}/data/linked`); // folder link
    await Deno.symlink(`${dir}/outside/two.bmp`, `${dir}/data/alias.bmp`); // file link
    await Deno.symlink(`${dir}/data`, `${dir}/data/real/loop`); // cycle back to the root
    await Deno.symlink(`${dir}/nowhere`, `${dir}/data/broken.png`);
    const list = await listImages(`${dir}/data`);
    deepStrictEqual(list.files.map((f) => f.name), [
      "alias.bmp",
      "linked/three.ppm",
      "linked/two.bmp",
      "real/one.png",
    ]);
    ok(list.warnings.some((w) => w.includes("cycle")), list.warnings.join("\n"));
    ok(list.warnings.some((w) => w.includes("broken")), list.warnings.join("\n"));
  });
});

Deno.test("listImages: a list of files and folders", async () => {
  await withTempDir(async (dir) => {
    await touch(`${dir}/f1/a.png`);
    await touch(`${dir}/f1/sub/b.png`);
    await touch(`${dir}/f2/c.jpg`);
    await Deno.mkdir(`${dir}/empty`);
    const list = await listImages([`${dir}/f2/c.jpg`, `${dir}/f1`, `${dir}/empty`]);
    deepStrictEqual(list.files.map((f) => f.name), [
      `${dir}/f1/a.png`,
      `${dir}/f1/sub/b.png`,
      `${dir}/f2/c.jpg`,
    ]);
    strictEqual(list.root, null);
    ok(list.warnings.some((w) => w.includes("empty") && w.includes("no images")));
    // An image path is accepted without an existence check (it fails at decode time).
    const ghost = await listImages([`${dir}/ghost.png`]);
    strictEqual(ghost.files.length, 1);
    await rejects(listImages([`${dir}/ghost.txt`]), /not found/);
    await touch(`${dir}/notes.txt`);
    await rejects(listImages([`${dir}/notes.txt`]), /neither a folder nor an image/);
  });
});

Deno.test("listImages: missing folder and folder without images are clear errors", async () => {
  await withTempDir(async (dir) => {
    await rejects(listImages(`${dir}/missing`), (e: Error) => {
      ok(e instanceof DataError);
      ok(e.message.includes("not found") && e.message.includes(`${dir}/missing`), e.message);
      return true;
    });
    await touch(`${dir}/only/readme.txt`);
    await rejects(listImages(`${dir}/only`), (e: Error) => {
      ok(e instanceof DataError);
      ok(e.message.includes(`${dir}/only`), e.message);
      ok(e.message.includes("jpg, jpeg, png"), e.message);
      return true;
    });
  });
});

Deno.test("hasImageExtension", () => {
  ok(hasImageExtension("a/b.JPEG"));
  ok(hasImageExtension("x.tiff"));
  ok(!hasImageExtension("a.png/b"));
  ok(!hasImageExtension(".png"));
  ok(!hasImageExtension("img.dcm"));
  ok(hasImageExtension("img.dcm", [".dcm"]));
});
