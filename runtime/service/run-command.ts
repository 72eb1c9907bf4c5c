import pino from 'pino';
import { defineCommand } from '../cli/command';
import { reportError } from '../cli/report-error';
import { defaultModelPath } from '../model/default-model';
import { RUN_SPECS, redactUrl, resolveServiceConfig } from './config';
import { MqttService } from './service';
import { assertPortFree } from '../util/port';

const USAGE = "edgelstm run [--broker mqtt://host:1883] [--model FILE] [--input 'sensors/{device}/telemetry'] [--output 'edgelstm/{device}/result']";

const EPILOG = [
  'The password comes from $EDGELSTM_MQTT_PASSWORD (see --password-env) or --password-file; it is never logged.',
  'Cluster mode over NATS JetStream: edgelstm run --cluster nats://host:4222 [...]; `edgelstm run --cluster URL --help` lists its options.',
].join('\n');

/** The single-instance service: start, then run until SIGTERM or SIGINT (then: drain, snapshot, exit 0). */
const single = defineCommand({ usage: USAGE, options: RUN_SPECS, epilog: EPILOG }, async (values) => {
  const cfg = resolveServiceConfig(values);
  // A busy metrics port stops start-up here, before a reading is taken, rather than leaving a service nobody can watch.
  if (cfg.metricsPort > 0) await assertPortFree(cfg.metricsHost, cfg.metricsPort, 'metrics-port');
  const log = pino({ level: cfg.logLevel, base: { svc: 'edgelstm' } }, pino.destination({ dest: 2, sync: true }));
  const service = await MqttService.start(cfg, cfg.model ?? defaultModelPath(), log);
  if (cfg.broker === undefined) {
    process.stdout.write(service.embeddedBrokerRunning
      ? `edgelstm: embedded MQTT broker (Aedes) on ${service.brokerUrl}\n`
      : `edgelstm: a broker already listens on ${service.brokerUrl} (often Mosquitto): using it instead of starting the embedded one\n`);
  } else process.stdout.write(`edgelstm: connected to ${redactUrl(service.brokerUrl)}\n`);
  process.stdout.write(`edgelstm: publish a reading with:\n  ${service.publishHint}\n`);
  if (cfg.metricsPort > 0) {
    const port = await service.serveMetrics(cfg.metricsHost, cfg.metricsPort).catch(async (e: unknown) => {
      // Taken between the check and now: stop what started (drain, snapshot) and fail.
      await service.stop();
      throw e;
    });
    log.info({ url: `http://${cfg.metricsHost}:${port}/metrics` }, 'metrics and /health served');
    process.stdout.write(`edgelstm: metrics on http://${cfg.metricsHost}:${port}/metrics, health on /health\n`);
    if (cfg.view.enabled) process.stdout.write(`edgelstm: live view on http://${cfg.metricsHost}:${port}/view\n`);
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      service.log.info({ signal: sig }, 'shutting down');
      // The backstop: stop() keeps its own deadline; should anything still hold the process, it exits anyway.
      const exit = (code: number): void => {
        resolve(code);
        setTimeout(() => process.exit(code), 1000).unref();
      };
      setTimeout(() => {
        process.stderr.write('edgelstm: shutdown did not complete within --stop-timeout-s + 5 s; exiting\n');
        process.exit(1);
      }, service.cfg.stopTimeoutMs + 5000).unref();
      service.stop().then(
        () => exit(0),
        (e: unknown) => exit(reportError(e)),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
});

/** `edgelstm run`: the MQTT service until SIGTERM or SIGINT (then: drain, snapshot, exit 0). */
export async function main(argv: string[]): Promise<number> {
  // Cluster mode is its own shell over NATS JetStream (runtime/cluster); the single-instance service below is unchanged.
  if (argv.some((a) => a === '--cluster' || a.startsWith('--cluster='))) return (await import('../cluster/cluster-command')).main(argv);
  return single(argv);
}
