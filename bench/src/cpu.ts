/**
 * CPU time spent by groups of processes, read from /proc (Linux): what a load cost each part,
 * in CPU milliseconds, whatever else the machine was doing at the time. On a shared 2-core
 * machine that is the steadier figure; requests per second follow from it.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface Proc {
  pid: number;
  ppid: number;
  ticks: number;
  /** CPU of its children that exited and were waited for (a postmaster's finished backends) */
  childTicks: number;
  cmdline: string;
}

const TICKS_PER_S = 100; // CLK_TCK on Linux

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // the command name may hold spaces and parentheses: fields start after the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({
        pid: Number(name),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        childTicks: Number(fields[13]) + Number(fields[14]),
        cmdline,
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process group: the processes `match` picks, with their descendants when `tree`. */
export interface Group {
  match: (p: Proc) => boolean;
  tree: boolean;
}

/** One process (threads included), without its children. */
export const onlyPid = (pid: number | undefined): Group => ({ match: (p) => p.pid === pid, tree: false });
/** These processes, without their children. */
export const onlyPids = (pids: readonly (number | undefined)[]): Group => ({ match: (p) => pids.includes(p.pid), tree: false });
/** Processes whose command line holds every part, with their descendants (a postmaster's backends). */
export const commandTree = (...parts: string[]): Group => ({ match: (p) => parts.every((part) => p.cmdline.includes(part)), tree: true });

/** CPU milliseconds used so far by each named group (descendants included). */
export function cpuMs(groups: Record<string, Group>): Record<string, number> {
  const all = processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const result: Record<string, number> = {};
  for (const [name, group] of Object.entries(groups)) {
    const seen = new Set<number>();
    const stack = all.filter(group.match);
    let ticks = 0;
    while (stack.length) {
      const p = stack.pop() as Proc;
      if (seen.has(p.pid)) continue;
      seen.add(p.pid);
      ticks += p.ticks;
      if (group.tree) {
        ticks += p.childTicks;
        stack.push(...(children.get(p.pid) ?? []));
      }
    }
    result[name] = (ticks * 1000) / TICKS_PER_S;
  }
  return result;
}

/** Runs `work`, answering its result and the CPU ms each group spent meanwhile. */
export async function measuringCpu<T>(groups: Record<string, Group>, work: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = cpuMs(groups);
  const result = await work();
  const after = cpuMs(groups);
  return { result, cpu: Object.fromEntries(Object.keys(groups).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)])) };
}
