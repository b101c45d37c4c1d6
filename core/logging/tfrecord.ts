/**
 * TFRecord framing, the container of TensorBoard event files. Each record is
 * `uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)`,
 * all little-endian.
 *
 * @module
 */
import { maskedCrc32c } from "./crc32c.ts";

/** Frames one record. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Options of {@link readRecords}. */
export interface ReadRecordsOptions {
  /**
   * Accept a truncated last record (a writer that died mid-write) by stopping before it;
   * default true. A CRC mismatch always throws.
   */
  allowTruncatedTail?: boolean;
}

/**
 * Splits a TFRecord byte stream into its records, checking both CRCs of each. Throws an `Error`
 * naming the record index and byte offset on a CRC mismatch.
 */
export function readRecords(bytes: Uint8Array, opts: ReadRecordsOptions = {}): Uint8Array[] {
  const allowTail = opts.allowTruncatedTail ?? true;
  const out: Uint8Array[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) {
      if (allowTail) break;
      throw new Error(`tfrecord: truncated header of record ${out.length} at byte ${pos}`);
    }
    const len = Number(dv.getBigUint64(pos, true));
    const lenCrc = dv.getUint32(pos + 8, true);
    if (maskedCrc32c(bytes.subarray(pos, pos + 8)) !== lenCrc) {
      throw new Error(`tfrecord: length CRC mismatch in record ${out.length} at byte ${pos}`);
    }
    if (pos + 12 + len + 4 > bytes.length) {
      if (allowTail) break;
      throw new Error(`tfrecord: truncated data of record ${out.length} at byte ${pos}`);
    }
    const data = bytes.subarray(pos + 12, pos + 12 + len);
    if (maskedCrc32c(data) !== dv.getUint32(pos + 12 + len, true)) {
      throw new Error(`tfrecord: data CRC mismatch in record ${out.length} at byte ${pos}`);
    }
    out.push(data);
    pos += 12 + len + 4;
  }
  return out;
}
