import helper, { type FlowNode, type NodeModule, type TestNode } from 'node-red-node-test-helper';
import anomalyNode = require('../../nodes/edgelstm-anomaly/edgelstm-anomaly');
import modelNode = require('../../nodes/edgelstm-model/edgelstm-model');
import predictNode = require('../../nodes/edgelstm-predict/edgelstm-predict');

helper.init(require.resolve('node-red'));

export const NODES = [modelNode, anomalyNode, predictNode] as unknown as NodeModule[];
export { helper };

export type Msg = Record<string, unknown> & { payload?: unknown; topic?: string };

/** Messages arriving at a helper node, awaited one at a time. */
export class Sink {
  readonly messages: Msg[] = [];
  #waiters: ((m: Msg) => void)[] = [];
  #read = 0;

  constructor(node: TestNode) {
    node.on('input', (m: Msg) => {
      this.messages.push(m);
      const w = this.#waiters.shift();
      if (w) w(this.messages[this.#read++]!);
    });
  }

  next(): Promise<Msg> {
    if (this.#read < this.messages.length) return Promise.resolve(this.messages[this.#read++]!);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Errors a node reported (done(err) reaches node.error, which feeds Catch nodes). */
export class ErrorLog {
  readonly errors: Error[] = [];
  #waiters: ((e: Error) => void)[] = [];

  constructor(node: TestNode) {
    node.on('call:error', (call: { args: unknown[] }) => {
      const e = call.args[0] instanceof Error ? call.args[0] : new Error(String(call.args[0]));
      this.errors.push(e);
      this.#waiters.shift()?.(e);
    });
  }

  next(): Promise<Error> {
    const seen = this.errors.length;
    return new Promise((resolve) => {
      if (this.errors.length > seen) resolve(this.errors[seen]!);
      else this.#waiters.push(resolve);
    });
  }
}

export function modelConfig(id: string, extra: Record<string, unknown> = {}): FlowNode {
  return { id, type: 'edgelstm-model', source: 'shipped', backend: 'native', threads: 1, warmup: 4, maxDelay: 1, ...extra };
}

/** An anomaly node wired to helper nodes `<id>-all` and `<id>-anomalies`. */
export function anomalyFlow(id: string, model: string, extra: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id, type: 'edgelstm-anomaly', model, deviceProperty: 'topic', sensitivity: 'normal', wires: [[`${id}-all`], [`${id}-anomalies`]], ...extra },
    { id: `${id}-all`, type: 'helper' },
    { id: `${id}-anomalies`, type: 'helper' },
  ];
}

export function predictFlow(id: string, model: string, extra: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id, type: 'edgelstm-predict', model, deviceProperty: 'topic', horizon: 1, output: 'result', wires: [[`${id}-out`]], ...extra },
    { id: `${id}-out`, type: 'helper' },
  ];
}

/** A smooth series with a little deterministic texture. */
export function series(n: number, phase = 0): number[] {
  return Array.from({ length: n }, (_, i) => 20 + 3 * Math.sin((i + phase) / 5) + 0.1 * Math.cos(i * 1.7));
}

/** Warnings logged so far by nodes of a type (Node-RED's WARN level is 30). */
export function warningsOf(type: string): string[] {
  return helper
    .log()
    .args.filter(([e]) => e.level === 30 && e.type === type)
    .map(([e]) => String(e.msg));
}
