/**
 * Decodes TensorBoard event files (TFRecord + `tensorflow.Event`) back into plain objects:
 * a small reader for tests and tools, covering what {@link TensorBoardWriter} writes.
 *
 * @module
 */
import {
  fieldDouble,
  fieldFloat,
  fieldInt,
  fieldString,
  type ProtoField,
  readFields,
  WIRE,
} from "./protobuf.ts";
import { readRecords } from "./tfrecord.ts";

/** A decoded `Summary.Image`. */
export interface DecodedImage {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Channels (1, 2, 3 or 4). */
  colorspace: number;
  /** The encoded image bytes (PNG). */
  encoded: Uint8Array;
}

/** A decoded `Summary.Value`. */
export interface DecodedValue {
  /** The tag. */
  tag: string;
  /** `simple_value`, when present. */
  simpleValue?: number;
  /** The image, when present. */
  image?: DecodedImage;
}

/** A decoded `Event`. */
export interface DecodedEvent {
  /** Seconds since the Unix epoch. */
  wallTime: number;
  /** Global step (0 when absent). */
  step: number;
  /** `file_version`, on the first event. */
  fileVersion?: string;
  /** Summary values, when the event has a summary. */
  values: DecodedValue[];
}

const only = (fields: ProtoField[], n: number, wire: number) =>
  fields.filter((f) => f.field === n && f.wire === wire);

function decodeImage(bytes: Uint8Array): DecodedImage {
  const f = readFields(bytes);
  const num = (n: number) => {
    const x = only(f, n, WIRE.VARINT)[0];
    return x ? fieldInt(x) : 0;
  };
  const enc = only(f, 4, WIRE.BYTES)[0];
  return {
    height: num(1),
    width: num(2),
    colorspace: num(3),
    encoded: enc ? (enc.value as Uint8Array) : new Uint8Array(),
  };
}

/** Decodes one serialized `Event`. */
export function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const f = readFields(bytes);
  const wt = only(f, 1, WIRE.FIXED64)[0];
  const st = only(f, 2, WIRE.VARINT)[0];
  const fv = only(f, 3, WIRE.BYTES)[0];
  const ev: DecodedEvent = {
    wallTime: wt ? fieldDouble(wt) : 0,
    step: st ? fieldInt(st) : 0,
    values: [],
  };
  if (fv) ev.fileVersion = fieldString(fv);
  for (const s of only(f, 5, WIRE.BYTES)) {
    for (const v of only(readFields(s.value as Uint8Array), 1, WIRE.BYTES)) {
      const vf = readFields(v.value as Uint8Array);
      const tag = only(vf, 1, WIRE.BYTES)[0];
      const out: DecodedValue = { tag: tag ? fieldString(tag) : "" };
      const sv = only(vf, 2, WIRE.FIXED32)[0];
      if (sv) out.simpleValue = fieldFloat(sv);
      const img = only(vf, 4, WIRE.BYTES)[0];
      if (img) out.image = decodeImage(img.value as Uint8Array);
      ev.values.push(out);
    }
  }
  return ev;
}

/** Decodes every event of an event file's bytes, checking the TFRecord CRCs. */
export function decodeEventFile(bytes: Uint8Array): DecodedEvent[] {
  return readRecords(bytes).map(decodeEvent);
}
