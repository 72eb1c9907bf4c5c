/**
 * The contract between a detector and the NAB harness. A detector is one
 * parameter set; the harness calls `reset` before each file (one device per
 * file, nothing carried over) and `step` once per row, in file order, never
 * showing a row before its turn.
 */

export interface DetectorOutput {
  /** Anomaly likelihood of this row, in [0, 1]. NAB's threshold is chosen on these. */
  score: number;
  /** Forecast of the *next* row's value, in original units. Omit when there is none. */
  forecast?: number;
  /** The detector's own alarm flag at its default operating point (the engine's `anomaly`); scored as it is, no threshold sweep. */
  flag?: boolean;
}

/** What a detector is told about a file before its first row. */
export interface FileContext {
  /** `<category>/<name>.csv`. */
  readonly file: string;
  /** The file's min and max value: NAB's rules allow this, and only this, up front. Set only when the run asks for it (`revealRange`). */
  readonly inputMin?: number;
  readonly inputMax?: number;
}

export interface Detector {
  /** Shown in reports, e.g. `zscore-likelihood`. */
  readonly name: string;
  /** Forget everything: called before the first row of every file. */
  reset(context?: FileContext): void | Promise<void>;
  /** Score one row and forecast the next. May be async (an engine behind a batcher or a worker). */
  step(timestampMs: number, value: number): DetectorOutput | Promise<DetectorOutput>;
  /** Release resources after the last file. */
  close?(): void | Promise<void>;
}
