import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EdgeLstmError } from '../errors';

/** Splits one CSV line (RFC 4180 quoting; no newlines inside quotes). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface CsvRow {
  line: number;
  cells: string[];
}

/** Reads a CSV file line by line: the header, then rows with their 1-based line numbers. Blank lines are skipped. */
export async function* readCsv(file: string): AsyncGenerator<CsvRow> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new EdgeLstmError('E_CSV', `${file}: cannot read: ${(e as Error).message}`, { file });
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '') : text;
    if (trimmed.trim() === '') continue;
    yield { line, cells: splitCsvLine(trimmed) };
  }
}
