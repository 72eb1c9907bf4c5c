/**
 * The part of Node-RED's runtime API the edgelstm nodes use, typed here so the
 * package needs no @types/node-red (and `runtime/` never sees any of it).
 */
export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  reset?: unknown;
  [key: string]: unknown;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

/** The fields every node's configuration carries. */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
}

export type SendFunction = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type DoneFunction = (err?: Error) => void;

export interface RuntimeNode {
  readonly id: string;
  readonly z?: string;
  /** Set on nodes inside a subflow instance: the id of the node in the subflow template. */
  readonly _alias?: string;
  name?: string;
  on(event: 'input', handler: (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
  status(s: NodeStatus): void;
  warn(msg: string): void;
  error(err: string | Error, msg?: NodeMessage): void;
  log(msg: string): void;
  send(msg: NodeMessage | (NodeMessage | null)[]): void;
}

export interface NodeRedApi {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType<N extends RuntimeNode, D extends NodeDef>(type: string, ctor: (this: N, def: D) => void, opts?: object): void;
    getNode(id: string): unknown;
  };
  settings: { userDir?: string };
  events: {
    on(event: string, listener: (payload: unknown) => void): void;
    removeListener(event: string, listener: (payload: unknown) => void): void;
  };
  util: {
    getMessageProperty(msg: NodeMessage, prop: string): unknown;
    cloneMessage<T extends NodeMessage>(msg: T): T;
  };
  /** i18n lookup in this module's catalogue (locales/en-US/<node>.json). */
  _(key: string, subs?: Record<string, string | number>): string;
}
