import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time per group of processes over an interval (Linux /proc): the
 * server, this process (the load generator), PostgreSQL backends and
 * everything else on the machine, to see where a run's time went.
 */
const TICK_MS = 10; // USER_HZ = 100 on Linux

function processTicks(): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(entry), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Starts counting; `stop()` returns CPU seconds per group and the wall time. */
export function cpuShare(pids: Record<string, number | undefined>): { stop(): { wallSec: number; cpuSec: Record<string, number> } } {
  const before = processTicks();
  const t0 = performance.now();
  return {
    stop() {
      const after = processTicks();
      const wallSec = (performance.now() - t0) / 1000;
      const named = new Map<number, string>();
      for (const [name, pid] of Object.entries(pids)) if (pid) named.set(pid, name);
      const cpuSec: Record<string, number> = {};
      for (const [pid, a] of after) {
        const delta = a.ticks - (before.get(pid)?.ticks ?? 0);
        if (delta <= 0) continue;
        const group = named.get(pid) ?? (a.comm === 'postgres' ? 'postgres' : 'other');
        cpuSec[group] = (cpuSec[group] ?? 0) + (delta * TICK_MS) / 1000;
      }
      return { wallSec, cpuSec };
    },
  };
}

/** "server 1.2 cores, load generator 0.5, postgres 0.3, other 0.1 (of 2)". */
export function describeShare(share: { wallSec: number; cpuSec: Record<string, number> }, cores: number): string {
  return (
    Object.entries(share.cpuSec)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(v / share.wallSec).toFixed(2)}`)
      .join(', ') + ` cores (of ${cores})`
  );
}
