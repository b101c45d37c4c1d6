import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { decodeFile, decodeImage, type DecodeOptions, ImageDecodeError } from "./decode.ts";
import { encodeBmp, encodePnm, HAVE_SHARP, pattern, withTempDir } from "./fixtures_test.ts";
import { loadSharp } from "./sharp.ts";

const ignore = !HAVE_SHARP;
const W = 6, H = 4;
const KEEP: DecodeOptions = { size: 64 }; // fit, never enlarged: pixels come back as stored

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test({
  name: "decode: every format by extension (jpg, png, webp, tif, gif, bmp, ppm, pgm)",
  ignore,
  fn: async () => {
    const sharp = await loadSharp();
    const rgb = pattern(W, H);
    const raw = { raw: { width: W, height: H, channels: 3 as const } };
    const files: [string, Uint8Array, number][] = [ // name, bytes, allowed max error
      ["a.png", await sharp(rgb, raw).png().toBuffer(), 0],
      ["a.webp", await sharp(rgb, raw).webp({ lossless: true }).toBuffer(), 0],
      ["a.tif", await sharp(rgb, raw).tiff({ compression: "lzw" }).toBuffer(), 0],
      ["a.gif", await sharp(rgb, raw).gif().toBuffer(), 40],
      [
        "a.jpg",
        await sharp(rgb, raw).jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer(),
        40,
      ],
      ["a.bmp", encodeBmp(rgb, W, H, { bpp: 24 }), 0],
      ["a.ppm", encodePnm(6, rgb, W, H), 0],
    ];
    await withTempDir(async (dir) => {
      for (const [name, bytes, tol] of files) {
        await Deno.writeFile(`${dir}/${name}`, bytes);
        const img = await decodeFile(`${dir}/${name}`, KEEP);
        deepStrictEqual([img.width, img.height, img.channels], [W, H, 3], name);
        const d = maxDiff(img.data, rgb);
        ok(d <= tol, `${name}: max difference ${d} > ${tol}`);
      }
    });
    // Gray PGM is repeated to 3 channels.
    const g = [0, 50, 100, 150, 200, 250];
    const pgm = await decodeImage(encodePnm(5, g, 3, 2), KEEP);
    deepStrictEqual(Array.from(pgm.data), g.flatMap((v) => [v, v, v]));
  },
});

Deno.test({
  name: "decode: grayscale to 3 channels, alpha dropped, channels 1 and 4",
  ignore,
  fn: async () => {
    const sharp = await loadSharp();
    const g = new Uint8Array([0, 10, 200, 255]);
    const gray = await sharp(g, { raw: { width: 4, height: 1, channels: 1 } })
      .toColourspace("b-w").png().toBuffer();
    strictEqual((await sharp(gray).metadata()).channels, 1);
    const rgb = await decodeImage(gray, KEEP);
    deepStrictEqual(Array.from(rgb.data), [0, 0, 0, 10, 10, 10, 200, 200, 200, 255, 255, 255]);
    const one = await decodeImage(gray, { ...KEEP, channels: 1 });
    deepStrictEqual([one.channels, ...one.data], [1, 0, 10, 200, 255]);
    const four = await decodeImage(gray, { ...KEEP, channels: 4 });
    deepStrictEqual(Array.from(four.data.subarray(4, 8)), [10, 10, 10, 255]);
    const rgba = await sharp(new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80]), {
      raw: { width: 2, height: 1, channels: 4 },
    }).png().toBuffer();
    deepStrictEqual(Array.from((await decodeImage(rgba, KEEP)).data), [10, 20, 30, 50, 60, 70]);
    deepStrictEqual(Array.from((await decodeImage(rgba, { ...KEEP, channels: 4 })).data), [
      10,
      20,
      30,
      40,
      50,
      60,
      70,
      80,
    ]);
  },
});

Deno.test({
  name: "decode: 16-bit PNG/TIFF (gray and RGB) scaled to 8 bit",
  ignore,
  fn: async () => {
    const sharp = await loadSharp();
    const g16 = new Uint16Array([65535, 32768, 25700, 0]);
    const expect = [255, 128, 100, 0];
    const grey = sharp(g16, { raw: { width: 4, height: 1, channels: 1 } }).toColourspace("grey16");
    const rgb16 = new Uint16Array([65535, 32768, 25700, 0, 257, 514]);
    const rgb = sharp(rgb16, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace("rgb16");
    for (
      const [label, bytes] of [["png", await grey.clone().png().toBuffer()], [
        "tif",
        await grey.clone().tiff({ compression: "lzw" }).toBuffer(),
      ]] as const
    ) {
      const meta = await sharp(bytes).metadata();
      strictEqual(meta.depth, "ushort", label);
      const img = await decodeImage(bytes, KEEP);
      deepStrictEqual(Array.from(img.data), expect.flatMap((v) => [v, v, v]), label);
    }
    const png = await rgb.png().toBuffer();
    deepStrictEqual(Array.from((await decodeImage(png, KEEP)).data), [255, 128, 100, 0, 1, 2]);
    const pgm16 = encodePnm(5, Array.from(g16), 4, 1, 65535);
    deepStrictEqual(Array.from((await decodeImage(pgm16, { ...KEEP, channels: 1 })).data), expect);
  },
});

Deno.test({
  name: "decode: resize policies fit / crop / stretch",
  ignore,
  fn: async () => {
    const sharp = await loadSharp();
    // Left half red, right half blue, 40x20.
    const px = new Uint8Array(40 * 20 * 3);
    for (let i = 0; i < 40 * 20; i++) px.set(i % 40 < 20 ? [255, 0, 0] : [0, 0, 255], 3 * i);
    const png = await sharp(px, { raw: { width: 40, height: 20, channels: 3 } }).png().toBuffer();
    const fit = await decodeImage(png, { size: 10 });
    deepStrictEqual([fit.width, fit.height], [10, 5]);
    const crop = await decodeImage(png, { size: 10, resize: "crop" });
    deepStrictEqual([crop.width, crop.height], [10, 10]);
    const stretch = await decodeImage(png, { size: 10, resize: "stretch" });
    deepStrictEqual([stretch.width, stretch.height], [10, 10]);
    // crop keeps the centre 20x20 (half red, half blue); stretch keeps both halves too, but
    // fit and stretch show the far left column red, as crop's leftmost column is as well.
    const at = (img: { data: Uint8Array; width: number }, x: number, y: number) =>
      Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    deepStrictEqual(at(crop, 0, 5), [255, 0, 0]);
    deepStrictEqual(at(crop, 9, 5), [0, 0, 255]);
    deepStrictEqual(at(stretch, 0, 0), [255, 0, 0]);
    // Small images are not enlarged by fit, but are by crop / stretch.
    const small = await sharp(px.subarray(0, 4 * 2 * 3), {
      raw: { width: 4, height: 2, channels: 3 },
    }).png().toBuffer();
    const s1 = await decodeImage(small, { size: 10 });
    deepStrictEqual([s1.width, s1.height], [4, 2]);
    const s2 = await decodeImage(small, { size: 10, resize: "crop" });
    deepStrictEqual([s2.width, s2.height], [10, 10]);
  },
});

Deno.test({
  name: "decode: corrupt, truncated, empty and missing files are ImageDecodeError",
  ignore,
  fn: async () => {
    const sharp = await loadSharp();
    const big = pattern(64, 64, 3);
    const jpg = await sharp(big, { raw: { width: 64, height: 64, channels: 3 } }).jpeg()
      .toBuffer();
    const png = await sharp(big, { raw: { width: 64, height: 64, channels: 3 } }).png()
      .toBuffer();
    const cut = jpg.subarray(0, Math.floor(jpg.length * 0.6));
    await rejects(decodeImage(cut, KEEP), ImageDecodeError);
    await rejects(
      decodeImage(png.subarray(0, Math.floor(png.length * 0.6)), KEEP),
      ImageDecodeError,
    );
    await rejects(
      decodeImage(new TextEncoder().encode("not an image at all"), KEEP),
      ImageDecodeError,
    );
    // LightlyTrain's behaviour (decode what is there) is an option.
    const partial = await decodeImage(cut, { ...KEEP, allowTruncated: true });
    deepStrictEqual([partial.width, partial.height], [64, 64]);
    await withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/empty.png`, new Uint8Array());
      await rejects(decodeFile(`${dir}/empty.png`, KEEP), /empty file/);
      await rejects(decodeFile(`${dir}/missing.png`, KEEP), /cannot read/);
    });
  },
});
