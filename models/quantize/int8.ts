/** Symmetric per-channel scales: the channel's largest magnitude maps to 127. A channel of zeros gets scale 1. */
export function symmetricScales(data: Float32Array, channels: number, channelOf: (i: number) => number): Float32Array {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const ch = channelOf(i);
    maxAbs[ch] = Math.max(maxAbs[ch]!, Math.abs(data[i]!));
  }
  return Float32Array.from(maxAbs, (m) => (m > 0 ? m / 127 : 1));
}

/**
 * Quantizes to [-127, 127] (never -128: the range stays symmetric and a zero
 * point of 0 is exact) with the scales as stored (float32), so the error of
 * each weight is at most half a step of its channel.
 */
export function quantizeInt8(data: Float32Array, scales: Float32Array, channelOf: (i: number) => number): Int8Array {
  const values = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) values[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / scales[channelOf(i)]!)));
  return values;
}

/** The bytes of an Int8Array as ONNX raw_data. */
export function int8Bytes(a: Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
