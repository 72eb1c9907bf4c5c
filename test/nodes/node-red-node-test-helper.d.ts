// The part of node-red-node-test-helper (which ships no types) the node tests use.
declare module 'node-red-node-test-helper' {
  import type { EventEmitter } from 'node:events';

  export interface TestNode extends EventEmitter {
    id: string;
    receive(msg: Record<string, unknown>): void;
    [key: string]: unknown;
  }
  export type FlowNode = Record<string, unknown> & { id: string; type: string };
  export type NodeModule = (RED: never) => void;

  interface Helper {
    init(runtimePath: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings: Record<string, unknown>): Record<string, unknown>;
    load(nodes: NodeModule | NodeModule[], flow: FlowNode[], credentials?: Record<string, unknown>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): TestNode;
    /** The spy on the runtime log: one call per entry, args[0] = {level, msg, type, id}. */
    log(): { args: [{ level: number; msg: unknown; type?: string; id?: string }][] };
    startServer(done: (err?: Error) => void): void;
    stopServer(done: (err?: Error) => void): void;
  }
  const helper: Helper;
  export = helper;
}
