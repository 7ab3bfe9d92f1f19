/**
 * Reads the Dockerfile the way `docker build` would for what this repository needs: the stages,
 * what each COPY takes from the build context (minus `.dockerignore`), and the RUN commands.
 * Used to rebuild the image's file set in a temporary folder without a Docker engine.
 */
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DockerStage {
  name: string | undefined;
  workdir: string;
  /** In order: a copy from the context or another stage, or a command. */
  steps: ({ kind: 'copy'; from: string | undefined; sources: string[]; destination: string } | { kind: 'run'; command: string })[];
  env: Record<string, string>;
  cmd: string[] | undefined;
}

/** Joins continuation lines and drops comments. */
function instructions(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  for (const line of instructions(text)) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    const op = keyword.toUpperCase();
    if (op === 'FROM') {
      const match = /\sAS\s+(\S+)$/i.exec(args);
      stages.push({ name: match?.[1], workdir: '/', steps: [], env: {}, cmd: undefined });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
    if (op === 'WORKDIR') stage.workdir = args;
    else if (op === 'RUN') stage.steps.push({ kind: 'run', command: args });
    else if (op === 'CMD') stage.cmd = JSON.parse(args) as string[];
    else if (op === 'ENV') for (const pair of args.split(/\s+/)) {
      const [key = '', value = ''] = pair.split('=');
      stage.env[key] = value;
    }
    else if (op === 'COPY') {
      const words = args.split(/\s+/);
      const fromFlag = words.find((w) => w.startsWith('--from='));
      const paths = words.filter((w) => !w.startsWith('--'));
      const destination = paths.pop();
      if (!destination) throw new Error(`Dockerfile: COPY without a destination: ${line}`);
      stage.steps.push({ kind: 'copy', from: fromFlag?.slice('--from='.length), sources: paths, destination });
    }
  }
  return stages;
}

/** The `.dockerignore` patterns (only plain paths and `dir/**`-style prefixes are supported). */
export function readDockerignore(root: string): string[] {
  const file = path.join(root, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

function ignored(relative: string, patterns: string[]): boolean {
  const posix = relative.split(path.sep).join('/');
  return patterns.some((pattern) => {
    const p = pattern.replace(/^\.?\//, '').replace(/\/\*\*$/, '').replace(/\/$/, '');
    if (p.includes('*')) {
      const regex = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/|$)`);
      return regex.test(posix);
    }
    return posix === p || posix.startsWith(`${p}/`);
  });
}

/** Copies what one context COPY takes into `target` (the stage's root), honouring `.dockerignore`. */
export function copyFromContext(context: string, sources: string[], destination: string, target: string, workdir: string): void {
  const patterns = readDockerignore(context);
  const destDir = path.join(target, path.posix.isAbsolute(destination) ? destination : path.posix.join(workdir, destination));
  for (const source of sources) {
    const from = path.join(context, source);
    if (!existsSync(from)) throw new Error(`COPY ${source}: not in the build context`);
    const into = destination.endsWith('/') || sources.length > 1 ? path.join(destDir, path.basename(source)) : destDir;
    mkdirSync(path.dirname(into), { recursive: true });
    cpSync(from, into, {
      recursive: true,
      filter: (file) => !ignored(path.relative(context, file), patterns),
    });
  }
}
