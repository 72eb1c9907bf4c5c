/**
 * Replays another detector's stored NAB outputs (NAB's results/<detector>/
 * layout: <category>/<detector>_<name>.csv with an anomaly_score column). It
 * lets `edgelstm eval nab --detector stored --scores DIR` score NAB's own
 * reference outputs through the same harness and scorer as a live detector.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Detector, DetectorOutput, FileContext } from './detector';
import { readSeriesCsv, type Series } from './series-csv';
import { csvError } from './timestamp';

export class StoredScoresDetector implements Detector {
  readonly name: string;
  readonly #dir: string;
  #series: Series | undefined;
  #row = 0;

  constructor(dir: string) {
    this.#dir = dir;
    this.name = `stored:${basename(dir)}`;
  }

  reset(context?: FileContext): void {
    if (context === undefined) throw new Error('context: the stored-scores detector needs the file name to find its scores');
    const [category, name] = context.file.split('/') as [string, string];
    const candidates = [join(this.#dir, category, `${basename(this.#dir)}_${name}`), join(this.#dir, category, name)];
    const file = candidates.find((c) => existsSync(c));
    if (file === undefined) throw csvError(`no stored scores for ${context.file}`, { file: candidates[0]!, expected: candidates.join(' or ') });
    this.#series = readSeriesCsv(file, 'anomaly_score');
    this.#row = 0;
  }

  step(timestampMs: number): DetectorOutput {
    const s = this.#series;
    if (s === undefined) throw new Error('step before reset');
    const i = this.#row++;
    if (i >= s.values.length || s.timestamps[i] !== timestampMs) {
      throw csvError('stored scores do not line up with the data file', { file: s.file, line: i + 2, column: 'timestamp', expected: new Date(timestampMs).toISOString(), found: i < s.values.length ? new Date(s.timestamps[i]!).toISOString() : 'end of file' });
    }
    return { score: s.values[i]! };
  }
}
