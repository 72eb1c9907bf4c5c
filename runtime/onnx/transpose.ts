/** A row-major [rows, cols] matrix as [cols, rows]: ONNX stores W as [4H, input] and the backends read [input, 4H]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
