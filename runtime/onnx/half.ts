import type { OnnxNode, OnnxTensor } from './types';

const FLOAT16 = 10;

/** The IEEE 754 half-precision bits nearest to `v` (ties away from zero; overflow to infinity). */
export function halfBits(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (!(a < 65520)) return sign | 0x7c00;
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e < 1) e--; // log2 can be off by one ulp at powers of two
  if (a / 2 ** e >= 2) e++;
  if (e < -14) return sign | Math.round(a / 2 ** -24); // subnormal (1024 carries into the exponent, as it should)
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return e > 15 ? sign | 0x7c00 : sign | ((e + 15) << 10) | m;
}

export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The smallest half-precision value >= v (v > 0): a scale rounded so no weight is pushed past 127. */
export function halfAtLeast(v: number): number {
  let bits = halfBits(v);
  if (halfValue(bits) < v) bits++;
  return halfValue(bits);
}

/**
 * Stores `data` as a float16 initializer `${name}_f16` and adds the Cast that
 * makes it the float32 value `name`. Half the bytes; ONNX Runtime folds the
 * Cast into a float32 constant when the session is created. The values must
 * already be what the caller wants at half precision (see halfAtLeast).
 */
export function storeAsHalf(name: string, dims: number[], data: ArrayLike<number>, nodes: OnnxNode[], initializers: OnnxTensor[]): void {
  const bits = Uint16Array.from({ length: data.length }, (_, i) => halfBits(data[i]!));
  initializers.push({ name: `${name}_f16`, dims, dataType: FLOAT16, raw: new Uint8Array(bits.buffer) });
  nodes.push({ name: '', opType: 'Cast', domain: '', inputs: [`${name}_f16`], outputs: [name], attributes: [{ name: 'to', type: 2, i: 1 }] });
}
