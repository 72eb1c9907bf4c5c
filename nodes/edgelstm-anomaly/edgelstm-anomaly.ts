/**
 * edgelstm-anomaly: scores each reading against the forecast the device's
 * LSTM made at the previous one. Output 1: every result; output 2: anomalies
 * only. msg.payload becomes the result object (DESIGN.md section 4).
 */
import type { NodeRedApi, RuntimeNode } from '../shared/node-red';
import { runReadingNode, trimForecast, type ReadingNodeDef } from '../shared/reading-node';
import { choiceSetting, numberSetting } from '../shared/settings';

interface AnomalyNodeDef extends ReadingNodeDef {
  /** 'low' | 'normal' | 'high' | 'custom' */
  sensitivity?: string;
  /** Likelihood threshold when sensitivity is 'custom'. */
  threshold?: string | number;
}

/** Anomaly-likelihood thresholds of the presets: higher sensitivity, lower threshold, more alarms. */
const SENSITIVITY_THRESHOLDS = { low: 0.99999, normal: 0.9999, high: 0.999 } as const;

export = function edgelstmAnomaly(RED: NodeRedApi): void {
  function EdgelstmAnomalyNode(this: RuntimeNode, def: AnomalyNodeDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const sensitivity = choiceSetting(warn, 'sensitivity', def.sensitivity, ['low', 'normal', 'high', 'custom'] as const, 'normal');
    const threshold =
      sensitivity === 'custom'
        ? numberSetting(warn, 'threshold', def.threshold, { min: 0, max: 1, default: SENSITIVITY_THRESHOLDS.normal })
        : SENSITIVITY_THRESHOLDS[sensitivity];

    runReadingNode(RED, this, def, {
      type: 'edgelstm-anomaly',
      horizon: 1,
      emit(msg, r, send, targets) {
        // The engine is shared: this node's threshold decides, not the engine's.
        r.anomaly = !r.warmup && r.likelihood !== null && r.likelihood >= threshold;
        trimForecast(r, 1, targets);
        msg.payload = r;
        send([msg, r.anomaly ? msg : null]);
        return { anomaly: r.anomaly };
      },
    });
  }
  RED.nodes.registerType('edgelstm-anomaly', EdgelstmAnomalyNode);
};
