/**
 * Append-only file output shared by the streaming loggers (metrics.jsonl, event files,
 * train.log): buffered, flushed on demand, and safe on a full disk. A failed flush truncates
 * the file back to its last complete flush, so earlier lines/records are never corrupted, and
 * throws a {@link LogWriteError} that says what to do. The unwritten bytes stay queued, so a
 * later flush (after space was freed) writes them.
 *
 * @module
 */

/** Where an {@link AppendFile} writes; a real file by default, injectable for tests. */
export interface ByteSink {
  /** Writes some of `p` at the end; returns how many bytes were written. */
  writeSync(p: Uint8Array): number;
  /** Cuts the file to `len` bytes. */
  truncateSync(len: number): void;
  /** Current size in bytes. */
  size(): number;
  /** Reads the last byte (undefined for an empty file or a sink that cannot read). */
  lastByte(): number | undefined;
  /** Releases the sink. */
  close(): void;
}

/** A write to a log file failed; the message says why and what to do. */
export class LogWriteError extends Error {
  /** The file that could not be written. */
  readonly path: string;
  /** True when the disk (or quota) is full. */
  readonly diskFull: boolean;

  /** Builds the error for `path` from the underlying `cause`. */
  constructor(path: string, cause: unknown, what: string) {
    const code = (cause as { code?: string })?.code;
    const msg = cause instanceof Error ? cause.message : String(cause);
    const diskFull = code === "ENOSPC" || code === "EDQUOT" || /no space left|quota/i.test(msg);
    super(
      diskFull
        ? `${what}: the disk holding ${path} is full (${msg}). Free some space there or pass ` +
          `another out= directory, then resume the run; lines already in the file are intact.`
        : `${what}: could not write ${path} (${msg}). Check that the directory exists and is ` +
          `writable; lines already in the file are intact.`,
      { cause },
    );
    this.name = "LogWriteError";
    this.path = path;
    this.diskFull = diskFull;
  }
}

/** Opens `path` for appending (creating it) as a {@link ByteSink}. */
export function fileSink(path: string): ByteSink {
  const f = Deno.openSync(path, { read: true, append: true, create: true });
  return {
    writeSync: (p) => f.writeSync(p),
    truncateSync: (len) => f.truncateSync(len),
    size: () => f.statSync().size,
    lastByte() {
      const size = f.statSync().size;
      if (size === 0) return undefined;
      try {
        f.seekSync(size - 1, Deno.SeekMode.Start);
        const b = new Uint8Array(1);
        return f.readSync(b) === 1 ? b[0] : undefined;
      } catch {
        return undefined;
      }
    },
    close: () => f.close(),
  };
}

/** Options of {@link AppendFile}. */
export interface AppendFileOptions {
  /** Names the log in error messages (e.g. "metrics.jsonl"). */
  what?: string;
  /** Sink to use instead of opening `path` (tests). */
  sink?: ByteSink;
  /**
   * For line-based text logs: when the existing file does not end with a newline (a writer
   * died mid-line), start the next write on a new line.
   */
  lineBased?: boolean;
}

/** A buffered append-only file. */
export class AppendFile {
  /** The file path. */
  readonly path: string;
  readonly #what: string;
  #sink: ByteSink | null;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #committed: number;

  /** Opens (creates) `path` for appending. Throws a {@link LogWriteError} when it cannot. */
  constructor(path: string, opts: AppendFileOptions = {}) {
    this.path = path;
    this.#what = opts.what ?? path;
    try {
      this.#sink = opts.sink ?? fileSink(path);
      this.#committed = this.#sink.size();
      if (opts.lineBased && this.#committed > 0) {
        const last = this.#sink.lastByte();
        if (last !== undefined && last !== 0x0a) this.append(new Uint8Array([0x0a]));
      }
    } catch (e) {
      if (e instanceof LogWriteError) throw e;
      throw new LogWriteError(path, e, this.#what);
    }
  }

  /** Bytes queued and not yet flushed. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Bytes of the file known to be complete (written by a successful flush or there before). */
  get committedBytes(): number {
    return this.#committed;
  }

  /** Queues `bytes` for the next flush. */
  append(bytes: Uint8Array): void {
    if (!this.#sink) throw new Error(`${this.#what}: write after close (${this.path})`);
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  /**
   * Writes everything queued. On failure the file is cut back to its last complete flush, the
   * bytes stay queued, and a {@link LogWriteError} is thrown.
   */
  flush(): void {
    const sink = this.#sink;
    if (!sink || this.#pendingBytes === 0) return;
    const all = new Uint8Array(this.#pendingBytes);
    let o = 0;
    for (const p of this.#pending) {
      all.set(p, o);
      o += p.length;
    }
    let written = 0;
    try {
      while (written < all.length) {
        const n = sink.writeSync(all.subarray(written));
        if (n <= 0) throw new Error("write returned 0 bytes");
        written += n;
      }
    } catch (e) {
      if (written > 0) {
        try {
          sink.truncateSync(this.#committed);
        } catch {
          // Not truncatable (a device); nothing else to do.
        }
      }
      this.#pending = [all];
      throw new LogWriteError(this.path, e, this.#what);
    }
    this.#committed += all.length;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Flushes and closes. Closes even when the flush fails (and then rethrows). */
  close(): void {
    if (!this.#sink) return;
    try {
      this.flush();
    } finally {
      this.#sink.close();
      this.#sink = null;
    }
  }
}
