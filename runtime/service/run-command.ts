import pino from 'pino';
import { formatHelp, parseArgs } from '../cli/args';
import { reportError } from '../cli/main';
import { defaultModelPath } from '../model/default-model';
import { RUN_SPECS, redactUrl, resolveServiceConfig } from './config';
import { MqttService } from './service';

const USAGE = "edgelstm run [--broker mqtt://host:1883] [--model FILE] [--input 'sensors/{device}/telemetry'] [--output 'edgelstm/{device}/result']";

/** `edgelstm run`: the MQTT service until SIGTERM or SIGINT (then: drain, snapshot, exit 0). */
export async function main(argv: string[]): Promise<number> {
  let service: MqttService;
  try {
    const { values, help } = parseArgs(argv, RUN_SPECS);
    if (help) {
      process.stdout.write(`${formatHelp(USAGE, RUN_SPECS)}\n\nThe password comes from $EDGELSTM_MQTT_PASSWORD (see --password-env) or --password-file; it is never logged.\n`);
      return 0;
    }
    const cfg = resolveServiceConfig(values);
    const log = pino({ level: cfg.logLevel, base: { svc: 'edgelstm' } }, pino.destination({ dest: 2, sync: true }));
    service = await MqttService.start(cfg, cfg.model ?? defaultModelPath(), log);
    if (cfg.broker === undefined) {
      process.stdout.write(service.embeddedBrokerRunning
        ? `edgelstm: embedded MQTT broker (Aedes) on ${service.brokerUrl}\n`
        : `edgelstm: a broker already listens on ${service.brokerUrl} (often Mosquitto): using it instead of starting the embedded one\n`);
    } else process.stdout.write(`edgelstm: connected to ${redactUrl(service.brokerUrl)}\n`);
    process.stdout.write(`edgelstm: publish a reading with:\n  ${service.publishHint}\n`);
    if (cfg.metricsPort > 0) {
      const port = await service.serveMetrics(cfg.metricsHost, cfg.metricsPort);
      log.info({ url: `http://${cfg.metricsHost}:${port}/metrics` }, 'metrics and /health served');
      process.stdout.write(`edgelstm: metrics on http://${cfg.metricsHost}:${port}/metrics, health on /health\n`);
    }
  } catch (e) {
    return reportError(e);
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      service.log.info({ signal: sig }, 'shutting down');
      service.stop().then(
        () => resolve(0),
        (e: unknown) => resolve(reportError(e)),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
