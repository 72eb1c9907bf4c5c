/**
 * edgelstm-model: the config node. One model session, one device-state store
 * and one batching engine, shared by every edgelstm-anomaly and
 * edgelstm-predict node that names it (the mqtt-broker pattern: users
 * register, the config node fans its state out to them).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { defaultModelPath } from '../../runtime/model/default-model';
import type { NodeRedApi } from '../shared/node-red';
import type { EngineUser, ModelAnnouncement, ModelConfigNode, ModelNodeDef } from './model-config';
import { choiceSetting, numberSetting } from '../shared/settings';
import { SharedEngine } from './shared-engine';

export = function edgelstmModel(RED: NodeRedApi): void {
  function EdgelstmModelNode(this: Writable<ModelConfigNode>, def: ModelNodeDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const userDir = RED.settings.userDir ?? process.cwd();
    const inUserDir = (p: string): string => (isAbsolute(p) ? p : resolve(userDir, p));
    const source = choiceSetting(warn, 'source', def.source, ['shipped', 'file', 'deployed'] as const, 'shipped');

    let modelPath = defaultModelPath();
    if (source === 'file') {
      if (def.path && def.path.trim()) modelPath = inUserDir(def.path.trim());
      else warn('source is "file" but no model file is set; using the shipped model');
    } else if (source === 'deployed') {
      const current = deployedModel(userDir);
      if (current) modelPath = current;
      else warn('no model has been deployed to this Node-RED yet (edgelstm deploy); using the shipped model until one is');
    }

    const stateFile = def.stateFile && def.stateFile.trim() ? inUserDir(def.stateFile.trim()) : undefined;
    const engine = new SharedEngine({
      modelPath,
      backend: choiceSetting(warn, 'backend', def.backend, ['native', 'wasm'] as const, 'native'),
      threads: numberSetting(warn, 'threads', def.threads, { min: 1, max: 64, integer: true, default: 1 }),
      engine: {
        maxDevices: numberSetting(warn, 'maxDevices', def.maxDevices, { min: 1, max: 10_000_000, integer: true, default: 100_000 }),
        idleTtlMs: numberSetting(warn, 'idleTtl', def.idleTtl, { min: 0, max: 365 * 86_400, default: 0 }) * 1000,
        maxDelayMs: numberSetting(warn, 'maxDelay', def.maxDelay, { min: 0, max: 1000, default: 2 }),
        warmup: numberSetting(warn, 'warmup', def.warmup, { min: 0, max: 1_000_000, integer: true, default: 100 }),
      },
      stateFile,
      saveIntervalMs: numberSetting(warn, 'saveInterval', def.saveInterval, { min: 0, max: 86_400, default: 60 }) * 1000,
      log: { warn, info: (m) => this.log(m) },
    });
    this.engine = engine;

    const users = new Set<EngineUser>();
    this.register = (u) => {
      users.add(u);
      u.engineChanged();
    };
    this.deregister = (u) => {
      users.delete(u);
    };
    engine.onChange = () => {
      for (const u of users) u.engineChanged();
    };
    engine.ready().then(
      (e) => this.log(`model ${e.model.id} (${e.model.metadata.features.join(', ')}) on ${e.model.backend.kind}`),
      (e: Error) => this.error(`model not loaded: ${e.message}`),
    );

    // `edgelstm deploy` installs a model through the edgelstm-admin endpoints, which announce it here.
    const onDeployed = (payload: unknown): void => {
      const p = (payload as ModelAnnouncement | null)?.path;
      if (source !== 'deployed' || typeof p !== 'string') return;
      engine.swapModel(p).catch((e: Error) => this.error(`deployed model not used, keeping the current one: ${e.message}`));
    };
    RED.events.on('edgelstm:model', onDeployed);

    this.on('close', (_removed, done) => {
      RED.events.removeListener('edgelstm:model', onDeployed);
      engine.close().then(
        () => done(),
        (e: Error) => {
          this.warn(`closing: ${e.message}`);
          done();
        },
      );
    });
  }
  RED.nodes.registerType('edgelstm-model', EdgelstmModelNode);
};

/** The model file `edgelstm deploy` made current (see edgelstm-admin), if any. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

function deployedModel(userDir: string): string | undefined {
  try {
    const c = JSON.parse(readFileSync(join(userDir, 'edgelstm', 'current.json'), 'utf8')) as ModelAnnouncement | null;
    return typeof c?.path === 'string' ? c.path : undefined;
  } catch {
    return undefined;
  }
}
