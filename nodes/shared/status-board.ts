import type { EnginePhase } from './shared-engine';
import type { RuntimeNode } from './node-red';

/** How often the status may change: the editor gets one update per node at most this often. */
const MIN_INTERVAL_MS = 500;
/** An anomaly stays on the status this long, so a passing one is seen. */
const ANOMALY_HOLD_MS = 5000;

export interface StatusSource {
  phase(): EnginePhase | 'unconfigured';
  /** Devices of this node (a store scan: only called when the status is drawn). */
  devices(): number;
  modelId(): string | undefined;
  /** The backend the model runs on (native, wasm). */
  backend(): string | undefined;
}

/**
 * The node status: the engine's phase until the first result, then the
 * node's active devices and last score (red while an anomaly is recent).
 * Updates are throttled; texts come from the node's message catalogue.
 */
export class StatusBoard {
  readonly #node: RuntimeNode;
  readonly #t: (key: string, subs?: Record<string, string | number>) => string;
  readonly #src: StatusSource;
  #last: { score: number | null } | undefined;
  #lastAnomaly: { device: string; likelihood: number | null } | undefined;
  #anomalyUntil = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  #drawnAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(node: RuntimeNode, t: (key: string, subs?: Record<string, string | number>) => string, src: StatusSource) {
    this.#node = node;
    this.#t = t;
    this.#src = src;
  }

  /** The engine changed phase: draw now. */
  phaseChanged(): void {
    this.#draw();
  }

  result(device: string, score: number | null, likelihood: number | null, anomaly: boolean): void {
    this.#last = { score };
    if (anomaly) {
      this.#lastAnomaly = { device, likelihood };
      this.#anomalyUntil = Date.now() + ANOMALY_HOLD_MS;
      // Back to the score once the anomaly is old, even if no reading comes.
      if (this.#holdTimer) clearTimeout(this.#holdTimer);
      this.#holdTimer = setTimeout(() => this.update(), ANOMALY_HOLD_MS + 1);
      this.#holdTimer.unref();
    }
    this.update();
  }

  /** Redraws soon (throttled). */
  update(): void {
    const wait = this.#drawnAt + MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#draw();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#draw();
      }, wait);
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    this.#timer = undefined;
    this.#holdTimer = undefined;
    this.#node.status({});
  }

  #draw(): void {
    this.#drawnAt = Date.now();
    const phase = this.#src.phase();
    if (phase === 'unconfigured') return this.#node.status({ fill: 'red', shape: 'ring', text: this.#t('status.unconfigured') });
    if (phase === 'loading') return this.#node.status({ fill: 'yellow', shape: 'ring', text: this.#t('status.loading') });
    if (phase === 'failed') return this.#node.status({ fill: 'red', shape: 'ring', text: this.#t('status.failed') });
    if (phase === 'closed') return this.#node.status({});
    const last = this.#last;
    if (!last) return this.#node.status({ fill: 'green', shape: 'ring', text: this.#t('status.ready', { model: this.#src.modelId() ?? '', backend: this.#src.backend() ?? '' }) });
    const devices = this.#src.devices();
    const a = this.#lastAnomaly;
    if (a && Date.now() < this.#anomalyUntil) {
      return this.#node.status({ fill: 'red', shape: 'dot', text: this.#t('status.anomaly', { device: a.device, likelihood: fmt(a.likelihood, 4), devices }) });
    }
    if (last.score === null) return this.#node.status({ fill: 'green', shape: 'ring', text: this.#t('status.first', { devices }) });
    this.#node.status({ fill: 'green', shape: 'dot', text: this.#t('status.scored', { devices, score: fmt(last.score, 3) }) });
  }
}

function fmt(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}
