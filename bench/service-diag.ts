/**
 * What a service process did during one measurement, per message: how many
 * readings each ONNX Runtime call took (its /metrics batch-size histogram),
 * and how often it entered the kernel (read and write system calls from
 * /proc/<pid>/io, voluntary context switches, i.e. wake-ups, from
 * /proc/<pid>/status) and the share of its CPU spent there. These tell a
 * fixed cost paid per batch, per socket read or per wake-up from one paid per
 * message: when the service keeps up easily, each wake-up finds few messages.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

export interface ServiceCounters {
  batchSum: number;
  batchCount: number;
  syscr: number;
  syscw: number;
  wakeups: number;
  /** CPU seconds in user and kernel mode. */
  user: number;
  system: number;
}

export interface ServiceDiag {
  /** Readings per ONNX Runtime call. */
  batch: number;
  readsPerMsg: number;
  writesPerMsg: number;
  wakeupsPerMsg: number;
  /** Kernel share of the service's CPU. */
  systemShare: number;
}

const NONE: ServiceCounters = { batchSum: NaN, batchCount: NaN, syscr: NaN, syscw: NaN, wakeups: NaN, user: NaN, system: NaN };

function metricsText(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function procField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The counters now; NaN where the process or its metrics cannot be read. */
export async function serviceCounters(pid: number | undefined, metricsPort: number | undefined): Promise<ServiceCounters> {
  if (pid === undefined) return NONE;
  const text = metricsPort === undefined ? '' : await metricsText(metricsPort);
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      batchSum: metric(text, 'edgelstm_batch_size_sum'),
      batchCount: metric(text, 'edgelstm_batch_size_count'),
      syscr: procField(io, 'syscr'),
      syscw: procField(io, 'syscw'),
      wakeups: procField(status, 'voluntary_ctxt_switches'),
      user: Number(f[11]) / 100,
      system: Number(f[12]) / 100,
    };
  } catch {
    return NONE;
  }
}

export function serviceDiag(a: ServiceCounters, b: ServiceCounters, messages: number): ServiceDiag {
  const cpu = b.user - a.user + (b.system - a.system);
  return {
    batch: (b.batchSum - a.batchSum) / (b.batchCount - a.batchCount),
    readsPerMsg: (b.syscr - a.syscr) / messages,
    writesPerMsg: (b.syscw - a.syscw) / messages,
    wakeupsPerMsg: (b.wakeups - a.wakeups) / messages,
    systemShare: (b.system - a.system) / cpu,
  };
}
