import { EdgeLstmError } from '../errors';

/**
 * The input subject template (`part.{partition}.sensors.{device}.telemetry`)
 * read once: the stream's subject filter, one partition's filter, and where in
 * a subject the device id sits.
 */
export interface SubjectPlan {
  /** What the stream captures: `part.*.sensors.*.telemetry`. */
  readonly streamFilter: string;
  /** One partition's consumer filter: `part.7.sensors.*.telemetry`. */
  partitionFilter(partition: number): string;
  /** The device id of a subject, or undefined when it does not fit the template. */
  device(subject: string): string | undefined;
}

export function planSubjects(template: string): SubjectPlan {
  const tokens = template.split('.');
  const pIdx = tokens.indexOf('{partition}');
  const dIdx = tokens.indexOf('{device}');
  if (pIdx < 0 || dIdx < 0 || tokens.some((t, i) => i !== pIdx && i !== dIdx && (t.length === 0 || /[*>{}\s]/.test(t)))) {
    throw new EdgeLstmError('E_CONFIG', `cluster subject "${template}": expected dot-separated tokens with exactly one {partition} and one {device} token`, { field: 'subject', found: template });
  }
  const fill = (p: string): string => tokens.map((t, i) => (i === pIdx ? p : i === dIdx ? '*' : t)).join('.');
  return {
    streamFilter: fill('*'),
    partitionFilter: (p) => fill(String(p)),
    device(subject) {
      // Token by token without splitting (once per reading): the fixed tokens must match, the device's is taken.
      let device: string | undefined;
      let start = 0;
      for (let i = 0; i < tokens.length; i++) {
        const dot = subject.indexOf('.', start);
        const last = i === tokens.length - 1;
        if (last !== (dot < 0)) return undefined; // fewer or more tokens than the template
        const end = last ? subject.length : dot;
        if (i === dIdx) device = subject.slice(start, end);
        else if (i !== pIdx) {
          const t = tokens[i]!;
          if (end - start !== t.length || !subject.startsWith(t, start)) return undefined;
        }
        start = end + 1;
      }
      return device !== undefined && device.length > 0 ? device : undefined;
    },
  };
}

/** A result subject for a device: NATS subjects are dot-separated, so a device id must be one token. */
export function resultSubjectFor(template: string, device: string): string {
  return template.replace('{device}', device);
}

/** A result subject template split around its (first) {device}: what goes before and after the device id. */
export function resultSubjectParts(template: string): { before: string; after: string } {
  const i = template.indexOf('{device}');
  return { before: template.slice(0, i), after: template.slice(i + '{device}'.length) };
}
