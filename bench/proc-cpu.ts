import { readdirSync, readFileSync } from 'node:fs';

const CLK = 100; // USER_HZ: /proc/<pid>/stat times are in 1/100 s on Linux

/** CPU seconds used so far by a process (user + system), or by one of its threads (`tid`), or NaN where /proc is missing. */
export function cpuSeconds(pid: number | undefined, tid?: number): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK;
  } catch {
    return NaN;
  }
}

/** Context switches of a process so far, over all its threads: voluntary (it waited) and involuntary (the kernel took the core away), or NaN. */
export function contextSwitches(pid: number | undefined): { voluntary: number; involuntary: number } {
  const out = { voluntary: 0, involuntary: 0 };
  if (pid === undefined) return { voluntary: NaN, involuntary: NaN };
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
      out.involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    }
  } catch {
    return { voluntary: NaN, involuntary: NaN };
  }
  return out;
}

/** CPU seconds used by the whole machine so far (all cores, busy time), or NaN. */
export function machineCpu(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / CLK;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process so far. */
export function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The q-quantile of sorted values (NaN for none). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
