/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and the TFRecord "masked" CRC that
 * TensorBoard event files use to frame each record.
 *
 * @module
 */

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data` (the value of `crc32c("123456789")` is `0xE3069283`). */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: `((crc >>> 15) | (crc << 17)) + 0xa282ead8`, modulo 2^32. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Masked CRC-32C of `data`, as stored in a TFRecord frame. */
export function maskedCrc32c(data: Uint8Array): number {
  return maskCrc(crc32c(data));
}
