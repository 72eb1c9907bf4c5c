/**
 * edgelstm-predict: the forecast of each device's next readings, `horizon`
 * steps ahead (rolled out on a copy of the state; the live state only ever
 * advances by real readings).
 */
import type { NodeRedApi, RuntimeNode } from '../shared/node-red';
import { runReadingNode, trimForecast, type ReadingNodeDef } from '../shared/reading-node';
import { choiceSetting, numberSetting } from '../shared/settings';

interface PredictNodeDef extends ReadingNodeDef {
  horizon?: string | number;
  /** 'result': msg.payload is the result object; 'forecast': msg.payload is the forecast alone. */
  output?: string;
}

export = function edgelstmPredict(RED: NodeRedApi): void {
  function EdgelstmPredictNode(this: RuntimeNode, def: PredictNodeDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const horizon = numberSetting(warn, 'horizon', def.horizon, { min: 1, max: 1000, integer: true, default: 1 });
    const output = choiceSetting(warn, 'output', def.output, ['result', 'forecast'] as const, 'result');

    runReadingNode(RED, this, def, {
      type: 'edgelstm-predict',
      horizon,
      emit(msg, r, send, targets) {
        trimForecast(r, horizon, targets);
        if (output === 'forecast') {
          // One number for one target one step ahead: what a chart node wants.
          msg.payload = r.forecast.length === 1 ? r.forecast[0] : r.forecast;
          msg.device = r.device;
          msg.ts = r.ts;
        } else msg.payload = r;
        send(msg);
        return { anomaly: false };
      },
    });
  }
  RED.nodes.registerType('edgelstm-predict', EdgelstmPredictNode);
};

