import pino from 'pino';
import { defineCommand } from '../cli/command';
import { engineOptionSpecs, engineOptionsFrom } from '../cli/engine-options';
import { loadModel } from '../model/load-model';
import { defaultModelPath } from '../model/default-model';
import type { BackendKind } from '../backend/backend';
import { CLUSTER_DEFAULTS, resolveClusterOptions } from './cluster-options';
import { ClusterNode } from './cluster-node';
import { serveClusterHealth } from './cluster-health';

/**
 * The engine's batch window in cluster mode (the single instance's is 2 ms): each of N instances gets 1/N of the
 * readings, and with 2 ms an ONNX Runtime call, a socket write of results and an acknowledgement per partition went
 * out for every ~25 readings at 3 instances (bench:cluster); 20 ms fills batches about twice as full. A result is up
 * to 18 ms later, small beside the stream's round trips.
 */
export const CLUSTER_MAX_DELAY_MS = 20;

export const CLUSTER_SPECS = {
  cluster: { type: 'list', description: 'NATS server URL(s) with JetStream: run as one instance of a cluster', required: true, placeholder: 'URL' },
  'cluster-group': { type: 'string', description: 'the group the fleet\'s instances share', default: CLUSTER_DEFAULTS.group },
  instance: { type: 'string', description: 'this instance\'s name, unique in the group (default: hostname-pid)' },
  partitions: { type: 'number', integer: true, min: 1, max: 4096, description: 'partitions of the fleet: equal to the server mapping\'s partition(N, ...)', default: CLUSTER_DEFAULTS.partitions },
  'cluster-subject': { type: 'string', description: 'input subject with {partition} and {device} tokens', default: CLUSTER_DEFAULTS.subject, placeholder: 'SUBJECT' },
  'cluster-stream': { type: 'string', description: 'JetStream stream of the readings (created when missing)', default: CLUSTER_DEFAULTS.stream },
  'cluster-replicas': { type: 'number', integer: true, min: 1, max: 5, description: 'replicas of the stream, leases and snapshots this instance creates', default: CLUSTER_DEFAULTS.replicas },
  'result-subject': { type: 'string', description: 'result subject ({device}); MQTT clients of NATS see edgelstm.x.result as edgelstm/x/result', default: CLUSTER_DEFAULTS.resultSubject, placeholder: 'SUBJECT' },
  'cluster-publish': { type: 'string', description: 'core: plain NATS publish; jetstream: wait for a results stream to store each result', default: CLUSTER_DEFAULTS.publish, choices: ['core', 'jetstream'] },
  'lease-ttl-ms': { type: 'number', integer: true, min: 150, max: 600000, description: 'a lease lapses this long after its last renewal (takeover time after a crash)', default: CLUSTER_DEFAULTS.leaseTtlMs },
  'tick-ms': { type: 'number', integer: true, min: 50, max: 60000, description: 'rebalance period, and how often leases are checked (each renewed once a third of its time to live minus a margin has passed)', default: CLUSTER_DEFAULTS.tickMs },
  'snapshot-every': { type: 'number', integer: true, min: 1, description: 'snapshot a partition after this many readings', default: CLUSTER_DEFAULTS.snapshotEvery },
  'snapshot-interval-ms': { type: 'number', integer: true, min: 100, description: '... or this long after its last snapshot', default: CLUSTER_DEFAULTS.snapshotIntervalMs },
  'metrics-host': { type: 'string', description: 'address /health is served on', default: '127.0.0.1' },
  'metrics-port': { type: 'number', integer: true, min: 0, max: 65535, description: 'port of /health (JSON: members, owned partitions, devices, counters); 0: off', default: 0 },
  model: { type: 'string', description: 'ONNX model file (default: the shipped generic model)', placeholder: 'FILE' },
  backend: { type: 'string', description: 'inference backend', default: 'native', choices: ['native', 'wasm', 'reference'] },
  'log-level': { type: 'string', description: 'log level', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  ...engineOptionSpecs,
  'max-delay-ms': { ...engineOptionSpecs['max-delay-ms'], description: 'longest a reading waits for batch-mates (an instance gets 1/N of the readings: a longer window than the single instance\'s 2 ms)', default: CLUSTER_MAX_DELAY_MS },
} as const;

/** `edgelstm run --cluster nats://...`: one instance of a cluster, until SIGTERM or SIGINT (then: hand over every partition, exit 0). */
export const main = defineCommand({ usage: 'edgelstm run --cluster nats://host:4222 [--cluster-group NAME] [--instance NAME] [--partitions 64]', options: CLUSTER_SPECS }, async (o) => {
  const opts = resolveClusterOptions({
    servers: o.cluster,
    group: o['cluster-group'],
    ...(o.instance !== undefined ? { instance: o.instance } : {}),
    partitions: o.partitions,
    subject: o['cluster-subject'],
    stream: o['cluster-stream'],
    replicas: o['cluster-replicas'],
    resultSubject: o['result-subject'],
    publish: o['cluster-publish'] as 'core' | 'jetstream',
    leaseTtlMs: o['lease-ttl-ms'],
    tickMs: o['tick-ms'],
    snapshotEvery: o['snapshot-every'],
    snapshotIntervalMs: o['snapshot-interval-ms'],
  });
  const log = pino({ level: o['log-level'], base: { svc: 'edgelstm', instance: opts.instance } }, pino.destination({ dest: 2, sync: true }));
  const model = await loadModel(o.model ?? defaultModelPath(), { backend: o.backend as BackendKind });
  const node = await ClusterNode.startRetrying(opts, model, engineOptionsFrom(o), log);
  process.stdout.write(`edgelstm: instance ${opts.instance} of cluster group ${opts.group} on ${opts.servers.join(',')} (${opts.partitions} partitions)\n`);
  let health: Awaited<ReturnType<typeof serveClusterHealth>> | undefined;
  if (o['metrics-port'] > 0) {
    try {
      health = await serveClusterHealth(node, o['metrics-host'], o['metrics-port']);
    } catch (e) {
      await node.stop();
      throw e;
    }
    process.stdout.write(`edgelstm: health on http://${o['metrics-host']}:${health.port}/health\n`);
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      log.info({ signal: sig }, 'shutting down: handing partitions over');
      health?.server.close();
      node.stop().then(
        () => model.release().then(() => resolve(0)),
        (e: unknown) => {
          log.error({ err: (e as Error).message }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
});
