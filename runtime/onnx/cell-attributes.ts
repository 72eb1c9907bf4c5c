import { ACTIVATION_PARAMS as PARAMS, type CellAttributes } from '../contract/cell-attributes';
import type { OnnxAttribute, OnnxNode } from './types';

const find = (n: OnnxNode, name: string): OnnxAttribute | undefined => n.attributes.find((a) => a.name === name);

/** Reads the attributes of a node (already checked by readRecurrentGraph). */
export function readCellAttributes(n: OnnxNode): CellAttributes {
  const out: { -readonly [K in keyof CellAttributes]: CellAttributes[K] } = {};
  const clip = find(n, 'clip')?.f;
  if (clip !== undefined) out.clip = clip;
  if ((find(n, 'input_forget')?.i ?? 0) !== 0) out.inputForget = true;
  if ((find(n, 'linear_before_reset')?.i ?? 0) !== 0) out.linearBeforeReset = true;
  const names = find(n, 'activations')?.strings;
  if (names) {
    const alphas = find(n, 'activation_alpha')?.floats ?? [];
    const betas = find(n, 'activation_beta')?.floats ?? [];
    let ai = 0;
    let bi = 0;
    out.activations = names.map((name) => {
      const p = PARAMS[name] ?? {};
      const alpha = p.alpha === undefined ? 0 : ai < alphas.length ? alphas[ai++]! : p.alpha;
      const beta = p.beta === undefined ? 0 : bi < betas.length ? betas[bi++]! : p.beta;
      return { name, alpha, beta };
    });
  }
  return out;
}

/** The same attributes as ONNX node attributes, for writing a graph back (export, quantize). */
export function cellAttributesToOnnx(a: CellAttributes | undefined): OnnxAttribute[] {
  if (!a) return [];
  const out: OnnxAttribute[] = [];
  if (a.clip !== undefined) out.push({ name: 'clip', type: 1, f: a.clip });
  if (a.inputForget) out.push({ name: 'input_forget', type: 2, i: 1 });
  if (a.linearBeforeReset) out.push({ name: 'linear_before_reset', type: 2, i: 1 });
  if (a.activations) {
    out.push({ name: 'activations', type: 8, strings: a.activations.map((x) => x.name) });
    const alphas = a.activations.filter((x) => PARAMS[x.name]?.alpha !== undefined).map((x) => x.alpha);
    const betas = a.activations.filter((x) => PARAMS[x.name]?.beta !== undefined).map((x) => x.beta);
    if (alphas.length) out.push({ name: 'activation_alpha', type: 6, floats: alphas });
    if (betas.length) out.push({ name: 'activation_beta', type: 6, floats: betas });
  }
  return out;
}
