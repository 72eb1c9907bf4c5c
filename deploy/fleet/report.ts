import { FAILED, type DeviceOutcome, type DeviceResult, type RolloutEvent } from './rollout';
import { describeState } from './target';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The per-device table printed at the end (the result last, since an error makes it long). */
export function summaryTable(results: readonly DeviceResult[]): string {
  const rows = [['device', 'kind', 'before', 'after', 'time', 'result']];
  for (const r of results) {
    rows.push([r.canary ? `${r.device} (canary)` : r.device, r.kind, describeState(r.before), describeState(r.after), seconds(r.ms), r.error ? `${r.outcome}: ${r.error}` : r.outcome]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const fmt = (row: string[]): string => row.map((cell, c) => (c === row.length - 1 ? cell : c === 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  const lines = rows.map(fmt);
  lines.splice(1, 0, '-'.repeat(widths.slice(0, -1).reduce((a, b) => a + b + 2, 0) + Math.min(widths.at(-1)!, 30)));
  return lines.join('\n');
}

export function countOutcomes(results: readonly DeviceResult[]): string {
  const counts = new Map<DeviceOutcome, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  return `${results.length} devices: ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}`;
}

/** Progress: a redrawn bar on a terminal, one plain line per device otherwise (logs, CI). */
export class Progress {
  readonly #out: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #total: number;
  #done = 0;
  #failed = 0;

  constructor(out: NodeJS.WriteStream | NodeJS.WritableStream, total: number) {
    this.#out = out;
    this.#tty = (out as NodeJS.WriteStream).isTTY === true;
    this.#total = total;
  }

  on(e: RolloutEvent): void {
    if (e.type === 'phase') {
      this.#line(`${e.phase === 'canary' ? 'canary' : e.phase === 'rest' ? 'rolling out to' : 'rolling back'} ${e.devices} device${e.devices === 1 ? '' : 's'}`);
      return;
    }
    const r = e.result;
    if (r.outcome !== 'rolled-back') this.#done++;
    if (FAILED.has(r.outcome) && r.outcome !== 'rolled-back') this.#failed++;
    const text = `${r.device} (${r.kind}${r.canary ? ', canary' : ''}): ${r.outcome}${r.error ? ` - ${r.error}` : ''} ${seconds(r.ms)}`;
    if (!this.#tty) {
      this.#out.write(`${text}\n`);
      return;
    }
    const width = 30;
    const filled = Math.round((this.#done / Math.max(1, this.#total)) * width);
    this.#out.write(`\r\x1b[K${text}\n[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total}${this.#failed ? `  ${this.#failed} failed` : ''}`);
  }

  #line(s: string): void {
    this.#out.write(this.#tty ? `\r\x1b[K${s}\n` : `${s}\n`);
  }

  end(): void {
    if (this.#tty) this.#out.write('\n');
  }
}
