/**
 * edgelstm-anomaly: scores each reading against the forecast the device's
 * LSTM made at the previous one. Output 1: every result; output 2: each
 * anomalous episode twice, at its start and at its end (payload.episode:
 * state, start, readings, durationMs, peak, features). msg.payload becomes
 * the result object (DESIGN.md section 4).
 */
import type { NodeRedApi, RuntimeNode } from '../shared/node-red';
import { runReadingNode, trimForecast, type ReadingNodeDef } from '../shared/reading-node';
import { choiceSetting, numberSetting } from '../shared/settings';
import { ENGINE_OPTION_RANGES, EpisodeGate, isEpisodeEvent, SENSITIVITY_THRESHOLDS } from '../../runtime';

interface AnomalyNodeDef extends ReadingNodeDef {
  /** 'low' | 'normal' | 'high' | 'custom' */
  sensitivity?: string;
  /** Likelihood threshold when sensitivity is 'custom'. */
  threshold?: string | number;
}


export = function edgelstmAnomaly(RED: NodeRedApi): void {
  function EdgelstmAnomalyNode(this: RuntimeNode, def: AnomalyNodeDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const sensitivity = choiceSetting(warn, 'sensitivity', def.sensitivity, ['low', 'normal', 'high', 'custom'] as const, 'normal');
    const threshold =
      sensitivity === 'custom'
        ? numberSetting(warn, 'threshold', def.threshold, { min: ENGINE_OPTION_RANGES.threshold.min, max: ENGINE_OPTION_RANGES.threshold.max, default: ENGINE_OPTION_RANGES.threshold.default })
        : SENSITIVITY_THRESHOLDS[sensitivity];

    // At the engine's own threshold its episodes are passed on as they are (the one detector: what `run`
    // publishes). At another one this node keeps its own episodes over the engine's likelihood.
    const gate = new EpisodeGate(threshold);
    runReadingNode(RED, this, def, {
      type: 'edgelstm-anomaly',
      horizon: 1,
      emit(msg, r, send, targets, engineThreshold) {
        if (threshold !== engineThreshold) gate.apply(r);
        trimForecast(r, 1, targets);
        msg.payload = r;
        const event = isEpisodeEvent(r);
        send([msg, event ? msg : null]);
        return { anomaly: r.episode?.state === 'start' };
      },
    });
  }
  RED.nodes.registerType('edgelstm-anomaly', EdgelstmAnomalyNode);
};
