/**
 * CPU and resident memory of the graph's processes, read from /proc (Linux): CPU as the share
 * of one core used between two samples, RSS as the kernel reports it. A graph the benchmark did
 * not start is found by the ports it listens on.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux Node supports). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
  rssBytes: number;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
    return { cpuSeconds, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine, from the first line of /proc/stat. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0) / TICKS_PER_SECOND;
    const idle = ((fields[3] ?? 0) + (fields[4] ?? 0)) / TICKS_PER_SECOND;
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface ProcessUsage {
  name: string;
  pid: number;
  /** Mean CPU over the window, in % of one core. */
  cpuPercent: number;
  rssMb: number;
  peakRssMb: number;
}

/** Samples a set of processes over a window: CPU from the first and last samples, RSS peak in between. */
export class UsageWindow {
  private readonly start = new Map<string, ProcessSample>();
  private readonly peak = new Map<string, number>();
  private readonly startedAt = process.hrtime.bigint();
  private readonly machineAtStart = machineCpu();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: ReadonlyMap<string, number>, intervalMs = 250) {
    for (const [name, pid] of pids) {
      const sample = sampleProcess(pid);
      if (sample) {
        this.start.set(name, sample);
        this.peak.set(name, sample.rssBytes);
      }
    }
    this.timer = setInterval(() => this.samplePeaks(), intervalMs);
    this.timer.unref();
  }

  private samplePeaks(): void {
    for (const [name, pid] of this.pids) {
      const sample = sampleProcess(pid);
      if (sample && sample.rssBytes > (this.peak.get(name) ?? 0)) this.peak.set(name, sample.rssBytes);
    }
  }

  /**
   * Per-process usage, plus an "other processes" entry: CPU the rest of the machine used in the
   * window (another build or test run on the same cores shows here, and explains a slow run).
   */
  finish(): ProcessUsage[] {
    clearInterval(this.timer);
    this.samplePeaks();
    const seconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    const usage: ProcessUsage[] = [];
    for (const [name, pid] of this.pids) {
      const first = this.start.get(name);
      const last = sampleProcess(pid);
      if (!first || !last) continue;
      usage.push({
        name,
        pid,
        cpuPercent: ((last.cpuSeconds - first.cpuSeconds) / seconds) * 100,
        rssMb: last.rssBytes / 2 ** 20,
        peakRssMb: (this.peak.get(name) ?? last.rssBytes) / 2 ** 20,
      });
    }
    const machine = machineCpu();
    if (machine && this.machineAtStart) {
      const ours = usage.reduce((sum, u) => sum + u.cpuPercent, 0);
      const all = ((machine.busy - this.machineAtStart.busy) / seconds) * 100;
      usage.push({ name: 'other processes', pid: 0, cpuPercent: Math.max(0, all - ours), rssMb: NaN, peakRssMb: NaN });
    }
    return usage;
  }
}

/** Socket inodes listening on each local TCP port (IPv4 and IPv6). */
function listeningInodes(): Map<number, string> {
  const byPort = new Map<number, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A = LISTEN
      if (cols.length < 10 || cols[3] !== '0A') continue;
      const port = parseInt(cols[1]!.split(':')[1]!, 16);
      byPort.set(port, cols[9]!);
    }
  }
  return byPort;
}

/** The pid listening on each of `ports`, found through /proc/<pid>/fd. */
export function pidsListeningOn(ports: ReadonlyMap<string, number>): Map<string, number> {
  const inodes = listeningInodes();
  const wanted = new Map<string, string>();
  for (const [name, port] of ports) {
    const inode = inodes.get(port);
    if (inode) wanted.set(`socket:[${inode}]`, name);
  }
  const found = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || wanted.size === found.size) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const name = wanted.get(link);
      if (name) found.set(name, Number(entry));
    }
  }
  return found;
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
