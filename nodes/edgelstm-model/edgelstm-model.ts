/**
 * edgelstm-model: the config node. One model session, one device-state store
 * and one batching engine, shared by every edgelstm-anomaly and
 * edgelstm-predict node that names it (the mqtt-broker pattern: users
 * register, the config node fans its state out to them).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { defaultModelPath } from '../../runtime';
import type { NodeRedApi } from '../shared/node-red';
import type { EngineUser, ModelAnnouncement, ModelConfigNode, ModelNodeDef } from '../shared/model-config';
import { MODEL_NODE_RANGES as R } from '../shared/model-ranges';
import { choiceSetting, numberSetting } from '../shared/settings';
import { SharedEngine } from '../shared/shared-engine';

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
      backend: choiceSetting(warn, 'backend', def.backend, ['auto', 'native', 'wasm'] as const, 'auto'),
      threads: numberSetting(warn, 'threads', def.threads, R.threads),
      engine: {
        maxDevices: numberSetting(warn, 'maxDevices', def.maxDevices, R.maxDevices),
        idleTtlMs: numberSetting(warn, 'idleTtl', def.idleTtl, R.idleTtl) * 1000,
        maxDelayMs: numberSetting(warn, 'maxDelay', def.maxDelay, R.maxDelay),
        warmup: numberSetting(warn, 'warmup', def.warmup, R.warmup),
        learn: def.learn === true ? { every: numberSetting(warn, 'learnEvery', def.learnEvery, R.learnEvery) } : false,
      },
      stateFile,
      saveIntervalMs: numberSetting(warn, 'saveInterval', def.saveInterval, R.saveInterval) * 1000,
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
      (e) => this.log(`model ${e.model.id} (${e.model.metadata.features.join(', ')}) on ${e.model.backend.kind}: ${e.model.backendChoice.reason}`),
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
  // The editor validates with the same ranges (edgelstm-model.html reads RED.settings.edgelstmModelRanges).
  RED.nodes.registerType('edgelstm-model', EdgelstmModelNode, { settings: { edgelstmModelRanges: { value: R, exportable: true } } });
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
