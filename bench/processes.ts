/**
 * CPU and resident memory of the graph's processes, read from /proc (Linux): CPU as the share
 * of one core used between two samples, RSS as the kernel reports it. A graph the benchmark did
 * not start is found by the ports it listens on.
 *
 * Memory of the whole graph comes two ways. Summing each process's RSS counts every shared page
 * once per process: the Node binary and onnxruntime's library (~74 MB of each process's RSS)
 * are in memory once but counted seven times. The graph's resident memory counts them once:
 * every process's anonymous pages (RssAnon, its own heap and buffers), plus its proportional
 * share of file-backed and shared-memory pages (Pss_File + Pss_Shmem). Both are reported.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux Node supports). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
  rssBytes: number;
  /** Anonymous resident pages (RssAnon): the process's own heap, stacks and buffers. */
  anonBytes: number;
}

const VM_RSS = /^VmRSS:\s+(\d+)\s+kB/m;
const RSS_ANON = /^RssAnon:\s+(\d+)\s+kB/m;
const PSS_FILE = /^Pss_File:\s+(\d+)\s+kB/m;
const PSS_SHMEM = /^Pss_Shmem:\s+(\d+)\s+kB/m;
const kbOf = (pattern: RegExp, text: string): number => Number(pattern.exec(text)?.[1] ?? 0);
const MB = 2 ** 20;

/** User + system CPU seconds of a /proc stat file: a process's (/proc/<pid>/stat) or one thread's (/proc/<pid>/task/<tid>/stat). */
export function cpuSecondsOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const cpuSeconds = cpuSecondsOf(`/proc/${pid}/stat`);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { cpuSeconds, rssBytes: kbOf(VM_RSS, status) * 1024, anonBytes: kbOf(RSS_ANON, status) * 1024 };
  } catch {
    return undefined;
  }
}

/**
 * A process's share of the file-backed and shared-memory pages it maps (Pss_File + Pss_Shmem of
 * /proc/<pid>/smaps_rollup): a page mapped by seven processes counts a seventh here. Reading it
 * walks the page tables (~5 ms for a 200 MB process), so it is read at rest, not under load;
 * these pages (code and libraries) barely move under load.
 */
export function sharedPssBytes(pid: number): number | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return (kbOf(PSS_FILE, rollup) + kbOf(PSS_SHMEM, rollup)) * 1024;
  } catch {
    return undefined;
  }
}

export interface GraphMemory {
  /** Resident memory with shared pages counted once: Σ anonymous + Σ shared share (MB). */
  residentMb: number;
  /** Σ RssAnon of the graph's processes (MB). */
  privateMb: number;
  /** Σ Pss_File + Pss_Shmem, as read at rest (MB). */
  sharedMb: number;
  /** Σ RSS, each shared page counted once per process that maps it (MB). */
  rssSumMb: number;
}

function memoryOf(anonBytes: number, rssBytes: number, sharedMb: number): GraphMemory {
  return { residentMb: anonBytes / MB + sharedMb, privateMb: anonBytes / MB, sharedMb, rssSumMb: rssBytes / MB };
}

/** The graph's memory now; `sharedMb` from `sharedPssBytes` at rest, or read now when omitted. */
export function graphMemory(pids: Iterable<number>, sharedMb?: number): GraphMemory {
  let anon = 0;
  let rss = 0;
  let shared = 0;
  for (const pid of pids) {
    const sample = sampleProcess(pid);
    anon += sample?.anonBytes ?? 0;
    rss += sample?.rssBytes ?? 0;
    if (sharedMb === undefined) shared += sharedPssBytes(pid) ?? 0;
  }
  return memoryOf(anon, rss, sharedMb ?? shared / MB);
}

/** RSS of each named process now (MB). */
export function rssMbByProcess(pids: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...pids].map(([name, pid]) => [name, (sampleProcess(pid)?.rssBytes ?? 0) / MB]));
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
  /** Peaks of the graph's sums (the names in `graph`), each from one round of samples. */
  private peakGraph = { anonBytes: 0, rssBytes: 0 };
  private readonly startedAt = process.hrtime.bigint();
  private readonly machineAtStart = machineCpu();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    private readonly graph: ReadonlySet<string> = new Set(pids.keys()),
    intervalMs = 250,
  ) {
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
    let anonBytes = 0;
    let rssBytes = 0;
    for (const [name, pid] of this.pids) {
      const sample = sampleProcess(pid);
      if (sample && sample.rssBytes > (this.peak.get(name) ?? 0)) this.peak.set(name, sample.rssBytes);
      if (sample && this.graph.has(name)) {
        anonBytes += sample.anonBytes;
        rssBytes += sample.rssBytes;
      }
    }
    this.peakGraph = { anonBytes: Math.max(anonBytes, this.peakGraph.anonBytes), rssBytes: Math.max(rssBytes, this.peakGraph.rssBytes) };
  }

  /** The graph's memory at its peak in the window (call after finish); `sharedMb` as read at rest. */
  graphPeak(sharedMb: number): GraphMemory {
    return memoryOf(this.peakGraph.anonBytes, this.peakGraph.rssBytes, sharedMb);
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
