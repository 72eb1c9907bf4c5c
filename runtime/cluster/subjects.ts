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
      const parts = subject.split('.');
      if (parts.length !== tokens.length) return undefined;
      for (let i = 0; i < tokens.length; i++) if (i !== pIdx && i !== dIdx && parts[i] !== tokens[i]) return undefined;
      const d = parts[dIdx]!;
      return d.length > 0 ? d : undefined;
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
