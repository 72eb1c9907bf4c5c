/** The edgelstm-model config node as the nodes that use it see it. */
import type { NodeDef, RuntimeNode } from './node-red';
import type { SharedEngine } from './shared-engine';

export interface ModelNodeDef extends NodeDef {
  /** 'shipped' (the generic model), 'file' (path), 'deployed' (the one `edgelstm deploy` installed). */
  source?: string;
  path?: string;
  backend?: string;
  threads?: string | number;
  maxDevices?: string | number;
  /** Seconds; 0 keeps idle devices. */
  idleTtl?: string | number;
  /** Milliseconds a reading waits for batch-mates. */
  maxDelay?: string | number;
  warmup?: string | number;
  /** Continual learning of the model on the flow's own readings. */
  learn?: boolean;
  /** Readings between fine-tunes. */
  learnEvery?: string | number;
  stateFile?: string;
  /** Seconds between snapshots; 0 saves on close only. */
  saveInterval?: string | number;
}

/** What a node using the config node implements. */
export interface EngineUser {
  /** Called when the engine's phase or model changes. */
  engineChanged(): void;
}

export interface ModelConfigNode extends RuntimeNode {
  readonly engine: SharedEngine;
  register(user: EngineUser): void;
  deregister(user: EngineUser): void;
}

export interface ModelAnnouncement {
  path?: string;
}
