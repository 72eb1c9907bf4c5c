import type { EpochReport, TrainListener } from './train';

/** What the progress bar writes to: process.stderr, or a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Formats seconds as 1h02m, 3m05s or 42s. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const r = Math.round(s);
  if (r >= 3600) return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
  if (r >= 60) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${r}s`;
}

/**
 * Training progress on a terminal: one line redrawn in place (epoch, a bar,
 * the running loss, ETA), at most ten times a second so drawing never costs
 * training time; a summary line stays behind after each epoch. Off a
 * terminal (a log file, CI) only the per-epoch lines are written.
 */
export class ProgressBar implements TrainListener {
  readonly #out: ProgressStream;
  readonly #tty: boolean;
  readonly #started = Date.now();
  #lastDraw = 0;
  #batchesDone = 0;
  #epochsPlanned: number;

  constructor(out: ProgressStream, epochsPlanned: number) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#epochsPlanned = epochsPlanned;
  }

  onBatch(epoch: number, batch: number, batches: number, loss: number): void {
    this.#batchesDone++;
    if (!this.#tty) return;
    const now = Date.now();
    if (now - this.#lastDraw < 100 && batch < batches) return;
    this.#lastDraw = now;
    const elapsed = (now - this.#started) / 1000;
    const total = this.#epochsPlanned * batches;
    const eta = (elapsed / this.#batchesDone) * (total - this.#batchesDone);
    const width = Math.max(10, Math.min(30, (this.#out.columns ?? 80) - 60));
    const filled = Math.round((batch / batches) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    this.#out.write(`\r\x1b[2Kepoch ${epoch}/${this.#epochsPlanned} [${bar}] ${String(Math.round((batch / batches) * 100)).padStart(3)}% loss ${loss.toPrecision(4)} ETA ${formatDuration(eta)} (upper bound)`);
  }

  onEpoch(r: EpochReport): void {
    const val = r.valLoss === null ? '' : ` val ${r.valLoss.toPrecision(4)}`;
    const line = `epoch ${r.epoch}/${r.epochs} loss ${r.trainLoss.toPrecision(4)}${val} ${r.seconds.toFixed(1)}s${r.best ? ' *' : ''}`;
    this.#out.write(this.#tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }
}
