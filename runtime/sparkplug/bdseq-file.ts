import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EdgeLstmError } from '../errors';

/**
 * The next bdSeq of edgelstm's Sparkplug edge node, kept beside the state
 * file (`<state file>.sparkplug.json`): a restarted service opens its session
 * with a bdSeq its previous one never used, so a host application that gets the
 * old session's NDEATH late (its will, delivered after the new NBIRTH) does not
 * take the new session for dead (Sparkplug 3.0, section 6.4.2 and 7.3).
 */
export class BdSeqFile {
  readonly path: string;

  constructor(stateFile: string) {
    this.path = `${stateFile}.sparkplug.json`;
  }

  /** The stored next bdSeq (0 when there is no file yet); a file that is not ours stops start-up naming it. */
  read(): number {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    let v: unknown;
    try {
      v = (JSON.parse(text) as { nextBdSeq?: unknown }).nextBdSeq;
    } catch {
      v = undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
      throw new EdgeLstmError('E_CONFIG', `${this.path} is not edgelstm's Sparkplug session file (delete it to start from bdSeq 0)`, { field: 'nextBdSeq', expected: 'an integer from 0 to 255', found: text.slice(0, 40) });
    }
    return v;
  }

  /** Stores the bdSeq the next session (of this process or the next) opens with; atomic (temp file + rename). */
  write(next: number): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ nextBdSeq: next & 255 })}\n`);
    renameSync(tmp, this.path);
  }
}
