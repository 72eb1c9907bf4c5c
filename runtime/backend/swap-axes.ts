/**
 * [a, b, n] -> [b, a, n]. Returns the input itself when a or b is 1 (the
 * bytes are the same then), so a one-step batch costs no copy.
 */
export function swapLeadingAxes(src: Float32Array, a: number, b: number, n: number): Float32Array {
  if (a === 1 || b === 1) return src;
  const out = new Float32Array(a * b * n);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(src.subarray((i * b + j) * n, (i * b + j + 1) * n), (j * a + i) * n);
  return out;
}
