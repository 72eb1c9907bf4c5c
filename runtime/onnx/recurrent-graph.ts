import { ModelError } from '../errors';
import type { CellKind, SequenceLayout } from '../contract/cell';
import type { OnnxAttribute, OnnxModel, OnnxNode } from './types';

/** What the loader learns from the graph's recurrent nodes. */
export interface RecurrentGraph {
  /** Undefined when the graph has no LSTM or GRU node (the cell then follows from edgelstm.io). */
  cell: CellKind | undefined;
  /** Undefined when the path from `x` to the first cell is not one the loader recognises. */
  layout: SequenceLayout | undefined;
  /** The LSTM/GRU nodes, in graph order. */
  nodes: OnnxNode[];
}

const RECURRENT = new Set(['LSTM', 'GRU', 'DynamicQuantizeLSTM']);

/** Activations ONNX defines for LSTM/GRU (spelled as the spec spells them). */
export const ACTIVATIONS = ['Sigmoid', 'Tanh', 'Relu', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh', 'HardSigmoid', 'Elu', 'Softsign', 'Softplus'] as const;

/** The ops a value may pass through between `x` and the first cell without its layout changing. */
const LAYOUT_PRESERVING = new Set(['Identity', 'Cast', 'Dropout', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'Tanh', 'Sigmoid']);

export function isRecurrentNode(n: OnnxNode): boolean {
  return RECURRENT.has(n.opType) && (n.opType !== 'DynamicQuantizeLSTM' || n.domain === 'com.microsoft');
}

export function attr(n: OnnxNode, name: string): OnnxAttribute | undefined {
  return n.attributes.find((a) => a.name === name);
}

/**
 * Finds the recurrent nodes and checks every attribute edgelstm cannot honour:
 * a cell that is not causal (bidirectional or reverse: streaming feeds one
 * reading at a time and cannot see the future), `layout=1` (state as
 * [batch, dirs, H]), a `sequence_lens` input, LSTM and GRU mixed, and
 * activations ONNX does not define. Each refusal names the node, the attribute
 * and what was found.
 */
export function readRecurrentGraph(model: OnnxModel, x: string, file: string): RecurrentGraph {
  const nodes = model.graph.nodes.filter(isRecurrentNode);
  const kinds = new Set(nodes.map((n) => (n.opType === 'GRU' ? 'gru' : 'lstm')));
  if (kinds.size > 1) throw new ModelError('the graph mixes LSTM and GRU cells', { file, field: 'graph', expected: 'one cell type', found: nodes.map((n) => `${n.opType} ${n.name}`).join(', ') });
  for (const n of nodes) checkAttributes(n, file);
  const cell = kinds.size === 0 ? undefined : ([...kinds][0] as CellKind);
  return { cell, layout: nodes.length ? detectLayout(model, x, nodes[0]!) : undefined, nodes };
}

function checkAttributes(n: OnnxNode, file: string): void {
  const where = (a: string): string => `${n.opType} node "${n.name}" attribute ${a}`;
  const direction = attr(n, 'direction')?.s ?? 'forward';
  if (direction !== 'forward') {
    throw new ModelError(`the ${n.opType} is not causal: streaming steps one reading at a time with the state carried forward, so a cell that reads the sequence backwards (${direction}) would need readings that have not arrived; export it with bidirectional=False`, { file, field: where('direction'), expected: 'forward', found: direction });
  }
  const layout = attr(n, 'layout')?.i ?? 0;
  if (layout !== 0) {
    throw new ModelError(`the ${n.opType} uses layout=${layout} (X as [batch, seq, F] and states as [batch, directions, H]); the state contract is [L, batch, H]: export with layout 0 (PyTorch's batch_first=True keeps layout 0 and is supported)`, { file, field: where('layout'), expected: '0', found: String(layout) });
  }
  if (n.inputs[4]) {
    throw new ModelError(`the ${n.opType} takes sequence_lens: edgelstm steps every device one reading at a time, so sequence lengths have no meaning; export without them`, { file, field: `${n.opType} node "${n.name}" input sequence_lens`, expected: 'no input', found: n.inputs[4] });
  }
  const acts = attr(n, 'activations')?.strings;
  if (acts) {
    const want = n.opType === 'GRU' ? 2 : 3;
    const bad = acts.find((a) => !(ACTIVATIONS as readonly string[]).includes(a));
    if (bad !== undefined || acts.length !== want) {
      throw new ModelError(`the ${n.opType}'s activations are not ones ONNX defines for one direction`, { file, field: where('activations'), expected: `${want} of ${ACTIVATIONS.join(', ')}`, found: acts.join(', ') });
    }
  }
  const hidden = attr(n, 'hidden_size')?.i;
  if (hidden === undefined || hidden < 1) throw new ModelError(`the ${n.opType} does not state its hidden size`, { file, field: where('hidden_size'), expected: 'a positive integer', found: String(hidden) });
}

/**
 * Follows `x` to the first cell: straight in means seq-first (layout 0);
 * through a Transpose with perm [1, 0, 2] (what torch.onnx.export writes for
 * batch_first=True) means batch-first. Anything else: undetermined.
 */
function detectLayout(model: OnnxModel, x: string, first: OnnxNode): SequenceLayout | undefined {
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of model.graph.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const seen = new Set<string>();
  const walk = (value: string, swapped: boolean, depth: number): SequenceLayout | undefined => {
    if (depth > 16 || seen.has(value)) return undefined;
    seen.add(value);
    for (const n of consumers.get(value) ?? []) {
      if (n === first && n.inputs[0] === value) return swapped ? 'batch-first' : 'seq-first';
      let next: boolean | undefined;
      if (n.opType === 'Transpose') {
        const perm = attr(n, 'perm')?.ints;
        if (perm && perm.length === 3 && perm[0] === 1 && perm[1] === 0 && perm[2] === 2) next = !swapped;
      } else if (LAYOUT_PRESERVING.has(n.opType)) {
        next = swapped;
      }
      if (next === undefined) continue;
      const found = walk(n.outputs[0]!, next, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(x, false, 0);
}
