import { EdgeLstmError, type Result } from '../../runtime';
import type { ModelConfigNode } from './model-config';
import type { DoneFunction, NodeDef, NodeMessage, NodeRedApi, RuntimeNode, SendFunction } from './node-red';
import { readingsFromMessage } from './reading';
import { SparkplugInput, type SparkplugNodeDef } from './sparkplug-input';
import { StatusBoard } from './status-board';

/** Settings both reading nodes (anomaly, predict) have. */
export interface ReadingNodeDef extends NodeDef, SparkplugNodeDef {
  /** The edgelstm-model config node's id. */
  model?: string;
  /** The msg property that names the device; default "topic". */
  deviceProperty?: string;
}

export interface ReadingNodeSpec {
  /** The node type: the prefix of its message catalogue keys. */
  type: 'edgelstm-anomaly' | 'edgelstm-predict';
  /** Forecast steps this node wants from the engine. */
  horizon: number;
  /** Sends one result (msg is the input message, or a clone of it for a second reading). */
  /** `engineThreshold`: the alarm threshold the shared engine's episodes were kept at. */
  emit(msg: NodeMessage, result: Result, send: SendFunction, targets: number, engineThreshold: number): { anomaly: boolean };
}

/**
 * The part both reading nodes share: the msg -> engine -> msg translation,
 * msg.reset, the status and the config node's lifecycle. Every input ends in
 * done() or done(err) (Catch nodes see the errors); a bad message is refused
 * before the engine, so it changes no device's state.
 */
export function runReadingNode(RED: NodeRedApi, node: RuntimeNode, def: ReadingNodeDef, spec: ReadingNodeSpec): void {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`${spec.type}.${key}`, subs);
  const config = (def.model ? RED.nodes.getNode(def.model) : null) as ModelConfigNode | null;
  // Inside a subflow instance a node's id changes with every deploy; the instance and template ids do not.
  const scope = node._alias !== undefined ? `${node.z ?? ''}~${node._alias}` : node.id;
  const deviceProperty = def.deviceProperty && def.deviceProperty.trim() ? def.deviceProperty.trim() : 'topic';

  const status = new StatusBoard(node, t, {
    phase: () => (config ? config.engine.phase : 'unconfigured'),
    devices: () => config?.engine.devicesIn(scope) ?? 0,
    modelId: () => config?.engine.model?.id,
    backend: () => config?.engine.model?.backendChoice.kind,
  });
  const user = { engineChanged: () => status.phaseChanged() };

  if (!config) {
    status.phaseChanged();
    node.on('input', (_msg, _send, done) => done(new EdgeLstmError('E_CONFIG', t('errors.unconfigured'), { field: 'model' })));
    return;
  }
  const engine = config.engine;
  engine.requireHorizon(spec.horizon);
  const sparkplug = new SparkplugInput(RED, node, def);
  config.register(user);

  // A missing parent (msg.meta.sensor without msg.meta) counts as absent, not as an error.
  const readProperty = (msg: NodeMessage): unknown => {
    try {
      return RED.util.getMessageProperty(msg, deviceProperty);
    } catch {
      return undefined;
    }
  };

  const handle = async (msg: NodeMessage, send: SendFunction): Promise<void> => {
    const e = await engine.ready();
    const deviceFromMsg = readProperty(msg);
    if (msg.reset !== undefined && msg.reset !== false) {
      const target = msg.reset === 'all' ? 'all' : typeof msg.reset === 'string' && msg.reset.length > 0 ? msg.reset : deviceFromMsg;
      if (typeof target !== 'string' || target.length === 0) {
        throw new EdgeLstmError('E_BAD_DEVICE', t('errors.reset'), { field: 'msg.reset', expected: `"all", a device id, or true with the device in msg.${deviceProperty}`, found: JSON.stringify(msg.reset) });
      }
      const n = await engine.reset(scope, target);
      node.log(t('log.reset', { target, n }));
      status.update();
      return;
    }
    // Sparkplug B (an mqtt in node on spBv1.0/#): the device is the topic's group/edge node/device.
    const readings = SparkplugInput.is(msg) ? sparkplug.readings(msg, e.shape.features) : readingsFromMessage(msg, { features: e.shape.features, deviceFromMsg, deviceProperty: `msg.${deviceProperty}` });
    // Every reading is queued before any is awaited, so a multi-reading payload batches and keeps its order.
    const settled = await Promise.allSettled(readings.map((r) => engine.push(scope, r.device, r.values, r.ts)));
    let firstError: unknown;
    let sent = 0;
    for (const s of settled) {
      if (s.status === 'rejected') {
        firstError ??= s.reason;
        continue;
      }
      const out = sent++ === 0 ? msg : RED.util.cloneMessage(msg);
      const { anomaly } = spec.emit(out, s.value, send, e.shape.targets.length, e.options.threshold);
      status.result(s.value.device, s.value.score, s.value.likelihood, anomaly);
    }
    if (firstError !== undefined) throw firstError;
  };

  node.on('input', (msg, send, done: DoneFunction) => {
    handle(msg, send).then(
      () => done(),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  });

  node.on('close', (_removed, done) => {
    config.deregister(user);
    status.stop();
    done();
  });
}

/** The forecast trimmed to `horizon` steps: a node's output never depends on what its neighbours asked for. */
export function trimForecast(r: Result, horizon: number, targets: number): void {
  const n = horizon * targets;
  if (r.forecast.length > n) r.forecast = r.forecast.slice(0, n);
}
