/**
 * WGSL generation for the tiled conv2d kernels (run by conv2d_tiles.ts). The kernel templates'
 * `//@` marker lines (`consts`, `decl`, `body`, `store`) are expanded into fully unrolled
 * register-tile code for one configuration: WGSL has no guaranteed unrolling, and on lavapipe a
 * loop over a private array compiles to scratch memory, several times slower than named
 * registers. The texture variants differ only in how they load.
 *
 * @module
 */
import tiledSrc from "./conv2d_tiled.wgsl" with { type: "text" };
import tiledRowsSrc from "./conv2d_tiled_rows.wgsl" with { type: "text" };
import tiledRowsTexSrc from "./conv2d_tiled_rows_tex.wgsl" with { type: "text" };
import tiledWeightSrc from "./conv2d_dw_tiled.wgsl" with { type: "text" };
import tiledWeightRowsSrc from "./conv2d_dw_rows.wgsl" with { type: "text" };
import tiledWeightRowsTexSrc from "./conv2d_dw_rows_tex.wgsl" with { type: "text" };

const COMP = "xyzw";

/** One register-tile configuration of the tiled forward kernel. */
export interface TileConfig {
  /** Output channels per thread (multiple of 4). */
  cob: number;
  /** Output pixels per thread along a row (multiple of 4). */
  px: number;
  /** Kernel width (taps along the row); 0 gives a kernel that writes zeros. */
  kw: number;
  /** Input columns per output pixel (stride). */
  sw: number;
  /** Input columns between taps (dilation). */
  dw: number;
  /** Column of the first tap inside the first loaded vec4 (0..3). */
  shift: number;
  /**
   * Output rows per thread; above 1 the taps are unrolled (conv2d_tiled_rows.wgsl) and `kh`,
   * `sh`, `dh` must be given.
   */
  py?: number;
  /** Kernel height (taps along the column), with `py` above 1. */
  kh?: number;
  /** Input rows per output row (stride), with `py` above 1. */
  sh?: number;
  /** Input rows between taps (dilation), with `py` above 1. */
  dh?: number;
}

/** vec4 loads a thread needs for one input row segment. */
export function tileLoads(c: TileConfig): number {
  return Math.floor((c.shift + (c.px - 1) * c.sw + (c.kw - 1) * c.dw) / 4) + 1;
}

function expand(code: string, parts: Record<string, string>): string {
  let out = code;
  for (const [k, v] of Object.entries(parts)) {
    if (!new RegExp(`^[ \\t]*//@${k}$`, "m").test(out)) {
      throw new Error(`conv2d template: no //@${k} marker`);
    }
    out = out.replace(new RegExp(`^([ \\t]*)//@${k}$`, "m"), (_m, ind) => ind + v);
  }
  return out;
}

/** WGSL of the tiled forward kernel for one configuration. */
export function tiledForwardSource(c: TileConfig): string {
  const c4 = c.cob / 4;
  const consts =
    `const COB = ${c.cob}; const PX = ${c.px}; const KW = ${c.kw}; const SW = ${c.sw};`;
  const decl: string[] = [];
  for (let j = 0; j < c.px; j++) {
    for (let q = 0; q < c4; q++) decl.push(`var a${j}_${q} = vec4f(0.0);`);
  }
  const body: string[] = [];
  if (c.kw > 0) {
    const nv = tileLoads(c);
    for (let v = 0; v < nv; v++) body.push(`let x${v} = xp[row + ${v}];`);
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        body.push(`{ let w = wt[wb + ${kw * c4 === 0 ? "" : `${kw} * c4s + `}${q}];`);
        for (let j = 0; j < c.px; j++) {
          const e = c.shift + j * c.sw + kw * c.dw;
          body.push(`  a${j}_${q} += w * x${e >> 2}.${COMP[e & 3]};`);
        }
        body.push(`}`);
      }
    }
  }
  const store: string[] = [];
  for (let q = 0; q < c4; q++) {
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < c.px; j++) {
        store.push(`put(ybase, ohw, g, co0, ow0, ${q * 4 + k}, ${j}, a${j}_${q}.${COMP[k]});`);
      }
    }
  }
  return expand(tiledSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n      "),
    store: store.join("\n  "),
  });
}

/**
 * WGSL of the multi-row tiled forward kernel for one configuration: conv2d_tiled_rows.wgsl, or
 * with `tex` conv2d_tiled_rows_tex.wgsl (input and weights read from textures).
 */
export function tiledRowsSource(c: TileConfig, tex = false): string {
  const c4 = c.cob / 4, py = c.py ?? 1, kh = c.kh ?? 1, sh = c.sh ?? 1, dh = c.dh ?? 1;
  const consts = `const COB = ${c.cob}; const PX = ${c.px}; const PY = ${py}; ` +
    `const KW = ${c.kw}; const KH = ${kh}; const SW = ${c.sw}; const SH = ${sh};`;
  const decl: string[] = [];
  for (let r = 0; r < py; r++) {
    for (let j = 0; j < c.px; j++) {
      for (let q = 0; q < c4; q++) decl.push(`var a${r}_${j}_${q} = vec4f(0.0);`);
    }
  }
  const body: string[] = [];
  const nv = tileLoads(c);
  const rows = new Set<number>();
  for (let r = 0; r < py; r++) for (let k = 0; k < kh; k++) rows.add(r * sh + k * dh);
  for (const r of [...rows].sort((a, b) => a - b)) {
    for (let v = 0; v < nv; v++) {
      body.push(
        tex
          ? `let x${r}_${v} = textureLoad(xt, vec2i(xc + ${v}, xr + ${r}), n);`
          : `let x${r}_${v} = xp[row + ${r ? `${r} * wp4 + ` : ""}${v}];`,
      );
    }
  }
  for (let k = 0; k < kh; k++) {
    for (let kw = 0; kw < c.kw; kw++) {
      const tap = k * c.kw + kw;
      for (let q = 0; q < c4; q++) {
        body.push(
          tex
            ? `{ let w = textureLoad(wt, vec2i(wc + ${q}, wr + ${tap}), 0);`
            : `{ let w = wt[wb + ${tap ? `${tap} * c4s + ` : ""}${q}];`,
        );
        for (let r = 0; r < py; r++) {
          const xr = r * sh + k * dh;
          for (let j = 0; j < c.px; j++) {
            const e = c.shift + j * c.sw + kw * c.dw;
            body.push(`  a${r}_${j}_${q} += w * x${xr}_${e >> 2}.${COMP[e & 3]};`);
          }
        }
        body.push(`}`);
      }
    }
  }
  const store: string[] = [];
  for (let r = 0; r < py; r++) {
    for (let q = 0; q < c4; q++) {
      for (let k = 0; k < 4; k++) {
        for (let j = 0; j < c.px; j++) {
          store.push(
            `put(ybase${r ? ` + ${r} * yrow` : ""}, ohw, g, co0, ow0, ${q * 4 + k}, ${j}, ` +
              `a${r}_${j}_${q}.${COMP[k]});`,
          );
        }
      }
    }
  }
  return expand(tex ? tiledRowsTexSrc : tiledRowsSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n    "),
    store: store.join("\n  "),
  });
}

/** One register-tile configuration of the tiled weight-gradient kernel. */
export interface WeightTileConfig {
  /** Output channels per thread (multiple of 4). */
  cob: number;
  /** Input channels per thread. */
  cib: number;
  /** Kernel width. */
  kw: number;
  /** Stride along the row. */
  sw: number;
  /** Dilation along the row. */
  dw: number;
}

/** vec4 loads of x per input channel and 4 output pixels. */
export function weightTileLoads(c: WeightTileConfig): number {
  return Math.floor((3 * c.sw + (c.kw - 1) * c.dw) / 4) + 1;
}

/** WGSL of the tiled weight-gradient kernel for one configuration. */
export function tiledWeightSource(c: WeightTileConfig): string {
  const c4 = c.cob / 4;
  const nvx = weightTileLoads(c);
  const consts = `const COB = ${c.cob}; const CIB = ${c.cib}; const KW = ${c.kw};`;
  const decl: string[] = [];
  for (let c0 = 0; c0 < c.cob; c0++) {
    decl.push(`let d${c0} = (g * p.cog + min(co0 + ${c0}, clo)) * dyPlane;`);
  }
  for (let i = 0; i < c.cib; i++) {
    decl.push(`let c${i} = (g * p.cig + min(ci0 + ${i}, cli)) * xPlane;`);
  }
  for (let i = 0; i < c.cib; i++) {
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) decl.push(`var a${i}_${kw}_${q} = vec4f(0.0);`);
    }
  }
  const body: string[] = [];
  for (let c0 = 0; c0 < c.cob; c0++) body.push(`let y${c0} = dy[dyRow + d${c0} + q];`);
  body.push(`let xq = xRow + q * ${c.sw};`);
  for (let i = 0; i < c.cib; i++) {
    body.push(`{`);
    for (let v = 0; v < nvx; v++) body.push(`  let x${v} = xp[xq + c${i} + ${v}];`);
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        const terms: string[] = [];
        for (let j = 0; j < 4; j++) {
          const e = j * c.sw + kw * c.dw;
          const yv = `vec4f(${[0, 1, 2, 3].map((k) => `y${q * 4 + k}.${COMP[j]}`).join(", ")})`;
          terms.push(`${yv} * x${e >> 2}.${COMP[e & 3]}`);
        }
        body.push(`  a${i}_${kw}_${q} += ${terms.join(" + ")};`);
      }
    }
    body.push(`}`);
  }
  const store: string[] = [];
  for (let i = 0; i < c.cib; i++) {
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        for (let k = 0; k < 4; k++) {
          store.push(
            `put(base, co0, ci0, ${q * 4 + k}, ${i}, ${kw}, a${i}_${kw}_${q}.${COMP[k]});`,
          );
        }
      }
    }
  }
  return expand(tiledWeightSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n      "),
    store: store.join("\n  "),
  });
}

/** One configuration of the all-taps weight-gradient kernel (conv2d_dw_rows.wgsl). */
export interface WeightRowsConfig {
  /** Output channels per thread (multiple of 4). */
  cob: number;
  /** Input channels per thread. */
  cib: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Stride [h, w]. */
  sh: number;
  sw: number;
  /** Dilation [h, w]. */
  dh: number;
  dw: number;
  /** Output rows per step. */
  py: number;
  /** dy vec4s (4 pixels each) per row per step. */
  q: number;
}

/** vec4 loads of one x row segment for one step of {@link tiledWeightRowsSource}. */
export function weightRowsLoads(c: { sw: number; dw: number; kw: number; q: number }): number {
  return Math.floor(((4 * c.q - 1) * c.sw + (c.kw - 1) * c.dw) / 4) + 1;
}

/**
 * WGSL of the all-taps weight-gradient kernel for one configuration: conv2d_dw_rows.wgsl, or
 * with `tex` conv2d_dw_rows_tex.wgsl (dy and the input read from textures).
 */
export function tiledWeightRowsSource(c: WeightRowsConfig, tex = false): string {
  const c4 = c.cob / 4, taps = c.kh * c.kw, nvx = weightRowsLoads(c);
  const consts = `const COB = ${c.cob}; const CIB = ${c.cib}; const KH = ${c.kh}; ` +
    `const KW = ${c.kw}; const SH = ${c.sh}; const SW = ${c.sw}; const PY = ${c.py}; ` +
    `const Q = ${c.q};`;
  const decl: string[] = [];
  for (let k = 0; k < c.cob; k++) {
    decl.push(`let d${k} = (g * p.cog + min(co0 + ${k}, clo)) * ${tex ? "p.OH" : "dyPlane"};`);
  }
  for (let i = 0; i < c.cib; i++) {
    decl.push(`let c${i} = (g * p.cig + min(ci0 + ${i}, cli)) * ${tex ? "p.Hp" : "xPlane"};`);
  }
  for (let i = 0; i < c.cib; i++) {
    for (let t = 0; t < taps; t++) {
      for (let q = 0; q < c4; q++) decl.push(`var a${i}_${t}_${q} = vec4f(0.0);`);
    }
  }
  const body: string[] = [];
  for (let r = 0; r < c.py; r++) {
    for (let k = 0; k < c.cob; k++) {
      for (let v = 0; v < c.q; v++) {
        const off = [`d${k}`, r ? `${r} * owp4` : "", v ? `${v}` : ""].filter((e) => e);
        body.push(
          tex
            ? `let y${r}_${k}_${v} = textureLoad(dyt, vec2i(q + ${v}, d${k} + oh0 + ${r}), n);`
            : `let y${r}_${k}_${v} = dy[yq + ${off.join(" + ")}];`,
        );
      }
    }
  }
  const rows = new Set<number>();
  for (let r = 0; r < c.py; r++) for (let k = 0; k < c.kh; k++) rows.add(r * c.sh + k * c.dh);
  const sorted = [...rows].sort((a, b) => a - b);
  for (let i = 0; i < c.cib; i++) {
    body.push(`{`);
    for (const xr of sorted) {
      for (let v = 0; v < nvx; v++) {
        const off = [`c${i}`, xr ? `${xr} * wp4` : "", v ? `${v}` : ""].filter((e) => e);
        body.push(
          tex
            ? `  let x${xr}_${v} = textureLoad(xt, vec2i(xq + ${v}, c${i} + xr0 + ${xr}), n);`
            : `  let x${xr}_${v} = xp[xq + ${off.join(" + ")}];`,
        );
      }
    }
    for (let kh = 0; kh < c.kh; kh++) {
      for (let kw = 0; kw < c.kw; kw++) {
        const t = kh * c.kw + kw;
        for (let q = 0; q < c4; q++) {
          const terms: string[] = [];
          for (let r = 0; r < c.py; r++) {
            const xr = r * c.sh + kh * c.dh;
            for (let j = 0; j < 4 * c.q; j++) {
              const e = j * c.sw + kw * c.dw;
              const yv = [0, 1, 2, 3].map((k) => `y${r}_${q * 4 + k}_${j >> 2}.${COMP[j & 3]}`);
              terms.push(`vec4f(${yv.join(", ")}) * x${xr}_${e >> 2}.${COMP[e & 3]}`);
            }
          }
          body.push(`  a${i}_${t}_${q} += ${terms.join(" + ")};`);
        }
      }
    }
    body.push(`}`);
  }
  const store: string[] = [];
  for (let i = 0; i < c.cib; i++) {
    for (let t = 0; t < taps; t++) {
      for (let q = 0; q < c4; q++) {
        for (let k = 0; k < 4; k++) {
          store.push(`put(base, co0, ci0, ${q * 4 + k}, ${i}, ${t}, a${i}_${t}_${q}.${COMP[k]});`);
        }
      }
    }
  }
  return expand(tex ? tiledWeightRowsTexSrc : tiledWeightRowsSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n      "),
    store: store.join("\n  "),
  });
}
