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

const ISO = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Epoch ms from epoch milliseconds or ISO 8601; a time without a zone is UTC (as NAB's files mean it). NaN when neither. */
export function parseTimestamp(s: string): number {
  const t = s.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = ISO.exec(t);
  if (m) return Date.parse(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  if (DATE_ONLY.test(t)) return Date.parse(`${t}T00:00:00Z`);
  return NaN;
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
