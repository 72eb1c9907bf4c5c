/** A model's sizes: F input features, H hidden units, L layers, T targets. */
export interface ModelDims {
  F: number;
  H: number;
  L: number;
  T: number;
}
