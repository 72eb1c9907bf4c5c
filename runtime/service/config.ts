import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/choose-backend';
import { EdgeLstmError } from '../errors';
import type { OptionSpecs, OptionValues } from '../cli/args';
import { engineOptionSpecs, engineOptionsFrom } from '../cli/engine-options';
import type { EngineOptions } from '../engine/options';
import { resolveAcquirePolicy, type AcquirePolicy } from '../acquire';
import { parseEd25519Key } from '../model/signature';
import { compileTopicTemplate, type TopicTemplate } from './topic-template';
import { isLoopback, parseEmbeddedUsers, type EmbeddedUsers } from './embedded-broker';
import { SPARKPLUG_INPUT } from '../sparkplug/link';
import { INTEGRATION_SPECS, resolveIntegrations, type IntegrationConfig } from '../sparkplug/options';

/** Every option of `edgelstm run`; each may also come from `--config file.json`. */
export const RUN_SPECS = {
  broker: { type: 'string', description: 'broker URL (mqtt://, mqtts://, ws://); none: embedded broker on 127.0.0.1:<embedded-port>', placeholder: 'URL' },
  'embedded-port': { type: 'number', integer: true, min: 0, max: 65535, description: 'port of the embedded broker (an existing listener there is used instead)', default: 1883 },
  'embedded-host': { type: 'string', description: 'address the embedded broker listens on; beyond loopback it needs --embedded-users (or --embedded-allow-anonymous)', default: '127.0.0.1', placeholder: 'HOST' },
  'embedded-users': { type: 'string', description: 'file of name:password lines: the embedded broker accepts only these clients', placeholder: 'FILE' },
  'embedded-allow-anonymous': { type: 'boolean', description: 'DANGEROUS: let the embedded broker take anonymous clients on a non-loopback --embedded-host', default: false },
  model: { type: 'string', description: 'ONNX model file (default: the shipped generic model)', placeholder: 'FILE' },
  backend: { type: 'string', description: 'inference backend (auto: native where onnxruntime-node loads and agrees, else wasm; EDGELSTM_BACKEND overrides auto)', default: 'auto', choices: BACKEND_CHOICES },
  input: { type: 'string', description: 'topic template of readings; placeholders {device}, {feature}, any other {name}', default: 'sensors/{device}/telemetry', placeholder: 'TEMPLATE' },
  output: { type: 'string', description: 'topic template of results', default: 'edgelstm/{device}/result', placeholder: 'TEMPLATE' },
  'anomaly-topic': { type: 'string', description: 'topic template of anomalies alone', default: 'edgelstm/{device}/anomaly', placeholder: 'TEMPLATE' },
  'error-topic': { type: 'string', description: 'topic of rejected readings, with the reason', default: 'edgelstm/errors', placeholder: 'TOPIC' },
  'control-topic': { type: 'string', description: 'topic of model reload requests ({"path"|"url", "sha256", "signature"}); read only with --control', default: 'edgelstm/control/model', placeholder: 'TOPIC' },
  control: { type: 'boolean', description: 'accept model requests on --control-topic (off: the topic is not subscribed)', default: false },
  'models-dir': { type: 'string', description: 'directory whose regular files "path" requests may name (none: path requests refused)', placeholder: 'DIR' },
  'allow-unsigned-models': { type: 'boolean', description: 'DANGEROUS: accept model requests without a signature when no --model-public-key is set', default: false },
  'allow-http-models': { type: 'boolean', description: 'accept http:// model URLs besides https://', default: false },
  'model-hosts': { type: 'string', description: 'comma-separated host names model URLs may name (none: any host)', placeholder: 'HOSTS' },
  'max-model-bytes': { type: 'number', integer: true, min: 1024, max: 4294967295, description: 'largest model read or downloaded', default: 268435456 },
  'model-fetch-timeout-s': { type: 'number', min: 0.1, max: 3600, description: 'longest a model read or download may take', default: 60 },
  'device-field': { type: 'string', description: 'payload field holding the device id when the topic has no {device}', default: 'device' },
  protocol: { type: 'string', description: 'MQTT protocol version', default: '5', choices: ['3.1.1', '5'] },
  qos: { type: 'number', integer: true, min: 0, max: 2, description: 'QoS of the subscription and of results', default: 1 },
  'client-id': { type: 'string', description: 'MQTT client id; keep it stable so the persistent session survives restarts', default: `edgelstm-${hostname()}` },
  'clean-start': { type: 'boolean', description: 'start a fresh session (loses readings queued while down)', default: false },
  'session-expiry-s': { type: 'number', integer: true, min: 0, max: 4294967295, description: 'MQTT 5 session expiry', default: 86400 },
  keepalive: { type: 'number', integer: true, min: 0, max: 65535, description: 'keepalive, seconds', default: 30 },
  username: { type: 'string', description: 'broker user name' },
  'password-env': { type: 'string', description: 'environment variable holding the password', default: 'EDGELSTM_MQTT_PASSWORD' },
  'password-file': { type: 'string', description: 'file holding the password (first line)', placeholder: 'FILE' },
  ca: { type: 'string', description: 'TLS: CA certificate file', placeholder: 'FILE' },
  cert: { type: 'string', description: 'TLS: client certificate file', placeholder: 'FILE' },
  key: { type: 'string', description: 'TLS: client key file', placeholder: 'FILE' },
  insecure: { type: 'boolean', description: 'TLS: accept a certificate that does not verify', default: false },
  'reconnect-min-ms': { type: 'number', min: 10, description: 'first reconnect delay (doubles, with jitter)', default: 500 },
  'reconnect-max-ms': { type: 'number', min: 10, description: 'longest reconnect delay', default: 30000 },
  'queue-size': { type: 'number', integer: true, min: 1, max: 10_000_000, description: 'readings in flight before the service stops reading from the broker', default: 20000 },
  'drop-policy': { type: 'string', description: 'when the queue is full: block (backpressure) or drop (count per device)', default: 'block', choices: ['block', 'drop'] },
  'max-payload-bytes': { type: 'number', integer: true, min: 16, max: 268435455, description: 'larger payloads are rejected', default: 65536 },
  'error-log-interval-s': { type: 'number', min: 0, description: 'log bad input at most once per device per interval', default: 60 },
  'state-file': { type: 'string', description: 'snapshot file of device state (restored at start)', placeholder: 'FILE' },
  'snapshot-interval-s': { type: 'number', min: 0, description: 'snapshot period (0: only at shutdown)', default: 60 },
  'stop-timeout-s': { type: 'number', min: 0.1, max: 3600, description: 'SIGTERM: longest the shutdown (drain, final snapshot, disconnect) may take, whatever the broker does', default: 10 },
  'watch-model': { type: 'boolean', description: 'reload the model when its file changes', default: true },
  dedupe: { type: 'boolean', description: 'skip a redelivered reading: timestamp before the device\'s last one, or equal to it with the same values', default: true },
  'max-clock-skew-s': { type: 'number', min: 0, description: 'refuse readings (E_BAD_TIMESTAMP) whose ts is more than this ahead of the gateway clock (0: no limit)', default: 86400 },
  'max-reading-age-s': { type: 'number', min: 0, description: 'refuse readings (E_BAD_TIMESTAMP) whose ts is older than this (0: no limit)', default: 0 },
  journal: { type: 'boolean', description: 'write-ahead journal beside --state-file (FILE.journal): after a crash the readings since the last snapshot are stepped again', default: true },
  name: { type: 'string', description: 'device name in the fleet topics edgelstm/<name>/control/model and edgelstm/<name>/status/model', default: hostname() },
  'model-public-key': { type: 'string', description: 'PEM ed25519 public key: refuse models without a valid signature', placeholder: 'PEM' },
  'metrics-port': { type: 'number', integer: true, min: 0, max: 65535, description: 'HTTP port of /metrics and /health (0: off)', default: 9464 },
  'metrics-host': { type: 'string', description: 'HTTP address of /metrics and /health', default: '127.0.0.1' },
  view: { type: 'boolean', description: 'serve the live view (/view: fleet table, per-device charts over server-sent events) beside /metrics', default: true },
  'view-devices': { type: 'number', integer: true, min: 1, max: 10_000_000, description: 'devices the live view tracks at most (the least recently updated is dropped)', default: 10000 },
  'view-points': { type: 'number', integer: true, min: 2, max: 100_000, description: 'readings per device the live view keeps (its chart length; 33 bytes each for one target, 12 more per further target)', default: 240 },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  ...INTEGRATION_SPECS,
  ...engineOptionSpecs,
} satisfies OptionSpecs;

export type RunOptions = OptionValues<typeof RUN_SPECS>;

/** The options after validation, normalized once (payload, sparkplug, haDiscovery: IntegrationConfig). */
export interface ServiceConfig extends IntegrationConfig {
  broker: string | undefined;
  embeddedPort: number;
  embeddedHost: string;
  /** Clients the embedded broker accepts (name -> SHA-256 of the password); undefined: anyone who reaches it. */
  embeddedUsers: EmbeddedUsers | undefined;
  model: string | undefined;
  backend: BackendChoice;
  input: TopicTemplate;
  output: TopicTemplate;
  anomaly: TopicTemplate;
  errorTopic: string;
  controlTopic: string;
  deviceField: string;
  protocolVersion: 4 | 5;
  qos: 0 | 1 | 2;
  clientId: string;
  cleanStart: boolean;
  sessionExpirySeconds: number;
  keepalive: number;
  username: string | undefined;
  /** Never logged: ServiceConfig is logged through redactConfig. */
  password: string | undefined;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  queueSize: number;
  dropPolicy: 'block' | 'drop';
  maxPayloadBytes: number;
  errorLogIntervalMs: number;
  stateFile: string | undefined;
  snapshotIntervalMs: number;
  /** Longest stop() may take (drain, final snapshot, disconnect). */
  stopTimeoutMs: number;
  watchModel: boolean;
  dedupe: boolean;
  /** Readings whose ts is further ahead of the clock than this are refused (0: no limit). */
  maxClockSkewMs: number;
  /** Readings whose ts is older than this are refused (0: no limit). */
  maxReadingAgeMs: number;
  /** Write-ahead journal file (beside the state file), when on. */
  journalFile: string | undefined;
  /** Device name in the fleet topics. */
  name: string;
  /** PEM ed25519 public key models must be signed with. */
  modelPublicKeyPem: string | undefined;
  /** Whether --control-topic is subscribed. */
  controlEnabled: boolean;
  /** Who may change the model, and how its bytes are fetched. */
  acquire: AcquirePolicy;
  metricsPort: number;
  metricsHost: string;
  /** The live view beside /metrics (runtime/view): on or off, devices tracked, points per device. */
  view: { enabled: boolean; devices: number; points: number };
  logLevel: string;
  engine: EngineOptions;
}

/** Checks what the per-option checks of parseArgs cannot: templates, files, combinations. */
export function resolveServiceConfig(o: RunOptions, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const input = compileTopicTemplate(o.input, 'input');
  const output = compileTopicTemplate(o.output, 'output');
  const anomaly = compileTopicTemplate(o['anomaly-topic'], 'anomaly-topic');
  for (const [name, t] of [['output', output], ['anomaly-topic', anomaly]] as const) {
    if (/[+#]/.test(t.template)) throw config(name, 'a topic without wildcards', t.template);
  }
  for (const name of ['error-topic', 'control-topic'] as const) if (/[+#]/.test(o[name])) throw config(name, 'a topic without wildcards', o[name]);
  if (!input.placeholders.includes('device') && o['device-field'].length === 0) throw config('device-field', 'a field name when --input has no {device}', o['device-field']);
  if (o['reconnect-max-ms'] < o['reconnect-min-ms']) throw config('reconnect-max-ms', `at least --reconnect-min-ms (${o['reconnect-min-ms']})`, o['reconnect-max-ms']);
  if (o.broker !== undefined) {
    let url: URL;
    try {
      url = new URL(o.broker);
    } catch {
      throw config('broker', 'a URL such as mqtt://host:1883', o.broker);
    }
    if (!['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ssl:', 'ws:', 'wss:'].includes(url.protocol)) throw config('broker', 'an mqtt://, mqtts://, ws:// or wss:// URL', o.broker);
    if (url.password) throw config('broker', 'a URL without a password (use --password-env or --password-file)', redactUrl(o.broker));
  }
  const password = o['password-file'] !== undefined ? readSecret(o['password-file']) : env[o['password-env']];
  const tls: ServiceConfig['tls'] = { rejectUnauthorized: !o.insecure };
  for (const k of ['ca', 'cert', 'key'] as const) {
    const p = o[k];
    if (p !== undefined) tls[k] = readFile(k, p);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw config(tls.cert ? 'key' : 'cert', 'both --cert and --key for a client certificate', 'only one');
  if (o.name.length === 0 || /[+#/\u0000]/.test(o.name)) throw config('name', 'a device name without /, + or #', o.name);
  let modelPublicKeyPem: string | undefined;
  if (o['model-public-key'] !== undefined) {
    modelPublicKeyPem = readFile('model-public-key', o['model-public-key']).toString('utf8');
    try {
      parseEd25519Key(modelPublicKeyPem, 'public', 'model-public-key');
    } catch (e) {
      throw config('model-public-key', 'a PEM ed25519 public key (SPKI)', `${o['model-public-key']} (${(e as Error).message})`);
    }
  }
  let acquire: AcquirePolicy;
  try {
    acquire = resolveAcquirePolicy({
      ...(modelPublicKeyPem !== undefined ? { publicKeyPem: modelPublicKeyPem } : {}),
      allowUnsigned: o['allow-unsigned-models'],
      ...(o['models-dir'] !== undefined ? { modelsDir: o['models-dir'] } : {}),
      allowHttp: o['allow-http-models'],
      allowedHosts: o['model-hosts']?.split(',') ?? [],
      maxBytes: o['max-model-bytes'],
      timeoutMs: o['model-fetch-timeout-s'] * 1000,
    });
  } catch (e) {
    const d = (e as EdgeLstmError).details ?? {};
    throw config(d.field ?? 'models-dir', d.expected ?? 'a valid value', d.found ?? (e as Error).message);
  }
  let embeddedUsers: EmbeddedUsers | undefined;
  if (o['embedded-users'] !== undefined) {
    try {
      embeddedUsers = parseEmbeddedUsers(readFile('embedded-users', o['embedded-users']).toString('utf8'));
    } catch (e) {
      if (e instanceof EdgeLstmError) throw e;
      throw config('embedded-users', 'a file of name:password lines', `${o['embedded-users']} (${(e as Error).message})`);
    }
  }
  // The embedded broker beyond loopback: anyone on the network could publish readings and, with --control, model requests.
  if (o.broker === undefined && !isLoopback(o['embedded-host']) && embeddedUsers === undefined && !o['embedded-allow-anonymous']) {
    throw config('embedded-host', 'a loopback address, or --embedded-users FILE to authenticate clients (or --embedded-allow-anonymous)', o['embedded-host']);
  }
  const journal = o.journal && o['state-file'] !== undefined;
  if (journal && !o.dedupe) throw config('dedupe', 'on with the journal (a reading redelivered after a crash would be stepped twice); or --journal=false', false);
  const integrations = resolveIntegrations(o, RUN_SPECS.input.default);
  return {
    broker: o.broker,
    embeddedPort: o['embedded-port'],
    embeddedHost: o['embedded-host'],
    embeddedUsers,
    model: o.model,
    backend: o.backend as ServiceConfig['backend'],
    input,
    output,
    anomaly,
    errorTopic: o['error-topic'],
    controlTopic: o['control-topic'],
    deviceField: o['device-field'],
    protocolVersion: o.protocol === '5' ? 5 : 4,
    qos: o.qos as 0 | 1 | 2,
    clientId: o['client-id'],
    cleanStart: o['clean-start'],
    sessionExpirySeconds: o['session-expiry-s'],
    keepalive: o.keepalive,
    username: o.username,
    password,
    tls,
    reconnectMinMs: o['reconnect-min-ms'],
    reconnectMaxMs: o['reconnect-max-ms'],
    queueSize: o['queue-size'],
    dropPolicy: o['drop-policy'] as 'block' | 'drop',
    maxPayloadBytes: o['max-payload-bytes'],
    errorLogIntervalMs: o['error-log-interval-s'] * 1000,
    stateFile: o['state-file'],
    snapshotIntervalMs: o['snapshot-interval-s'] * 1000,
    stopTimeoutMs: o['stop-timeout-s'] * 1000,
    watchModel: o['watch-model'],
    dedupe: o.dedupe,
    maxClockSkewMs: o['max-clock-skew-s'] * 1000,
    maxReadingAgeMs: o['max-reading-age-s'] * 1000,
    journalFile: journal ? `${o['state-file']}.journal` : undefined,
    name: o.name,
    modelPublicKeyPem,
    controlEnabled: o.control,
    acquire,
    metricsPort: o['metrics-port'],
    metricsHost: o['metrics-host'],
    view: { enabled: o.view, devices: o['view-devices'], points: o['view-points'] },
    logLevel: o['log-level'],
    engine: engineOptionsFrom(o),
    ...integrations,
    // Sparkplug B topics are its own: node and device messages of every group.
    ...(integrations.payload === 'sparkplug' ? { input: compileTopicTemplate(SPARKPLUG_INPUT, 'input') } : {}),
  };
}

/** What may be logged of a config: no password, no key material, no URL credentials. */
export function redactConfig(c: ServiceConfig): Record<string, unknown> {
  return {
    broker: c.broker === undefined ? 'embedded' : redactUrl(c.broker),
    model: c.model,
    input: c.input.template,
    output: c.output.template,
    qos: c.qos,
    protocolVersion: c.protocolVersion,
    clientId: c.clientId,
    cleanStart: c.cleanStart,
    username: c.username,
    password: c.password === undefined ? undefined : '[redacted]',
    tls: { ca: c.tls.ca !== undefined, cert: c.tls.cert !== undefined, key: c.tls.key !== undefined, rejectUnauthorized: c.tls.rejectUnauthorized },
    queueSize: c.queueSize,
    dropPolicy: c.dropPolicy,
    stateFile: c.stateFile,
    journalFile: c.journalFile,
    name: c.name,
    modelPublicKey: c.modelPublicKeyPem !== undefined,
    control: c.controlEnabled,
    modelsDir: c.acquire.modelsDir,
    allowUnsignedModels: c.acquire.allowUnsigned,
    allowHttpModels: c.acquire.allowHttp,
    modelHosts: c.acquire.allowedHosts,
  };
}

export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = 'redacted';
    return url.toString();
  } catch {
    return '[unparseable url]';
  }
}

function readSecret(path: string): string {
  return readFile('password-file', path).toString('utf8').split(/\r?\n/)[0]!;
}

function readFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw config(option, 'a readable file', `${path} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

function config(field: string, expected: string, found: unknown): EdgeLstmError {
  const f = typeof found === 'string' ? found : JSON.stringify(found);
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${f}`, { field, expected, found: f });
}
