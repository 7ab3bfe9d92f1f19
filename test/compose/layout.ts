/**
 * docker-compose.yml as local processes: every service built from this repository runs its own
 * command with its compose environment (the image's ENV, then the service's), variables
 * substituted from `.env.example`, service hostnames mapped to 127.0.0.1 and every port to a free
 * loopback port. PostgreSQL and Redis are the local ones: the compose database URL becomes a
 * schema of the test database, and Redis keys get a prefix of their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseDockerfile } from './dockerfile';

export interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  restart?: string;
  ports?: string[];
  profiles?: string[];
  volumes?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** `.env`-style lines: KEY=VALUE, comments and blank lines ignored. */
export function readEnvFile(file: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}; an unset required variable throws. */
export function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) => {
    const value = variables[name];
    if (value !== undefined && value !== '') return value;
    if (op === '?') throw new Error(`compose: ${name} is required: ${arg ?? ''}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

export function readCompose(root: string, variables: Record<string, string>): ComposeFile {
  const text = interpolate(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), variables);
  return parse(text, { merge: true }) as ComposeFile;
}

/** Services this repository's image runs (built here, or the image a built service tags). */
export function projectServices(compose: ComposeFile): string[] {
  const images = new Set(Object.values(compose.services).filter((s) => s.build === '.').map((s) => s.image));
  return Object.entries(compose.services).filter(([, s]) => s.build === '.' || (s.image !== undefined && images.has(s.image))).map(([name]) => name);
}

export function dependencies(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition]));
}

/** The runtime stage's ENV of the Dockerfile (NODE_ENV, HOST, ...). */
export function imageEnvironment(root: string): Record<string, string> {
  const stages = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  return { ...stages[stages.length - 1]?.env };
}

/**
 * One service's environment and argv as a local process: `hosts` maps a compose hostname:port
 * to a local host:port, `/app` (the image's WORKDIR) becomes the repository.
 */
export function localProcess(
  service: ComposeService,
  base: Record<string, string>,
  mapUrl: (value: string) => string,
  root: string,
  ports: Map<string, number>,
): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  // As compose does, a variable without a value is set empty.
  for (const [key, value] of Object.entries({ ...base, ...service.environment })) env[key] = mapUrl(value === null || value === undefined ? '' : String(value)).replace(/^\/app(?=\/|$)/, root);
  const argv = [...(service.entrypoint ?? []), ...(service.command ?? [])].map((arg, i, all) => (all[i - 1] === '--port' ? String(ports.get(arg) ?? arg) : arg));
  return { argv, env };
}

export interface Running {
  child: ChildProcess;
  output: () => string;
}

export function run(argv: string[], env: Record<string, string>, cwd: string): Running {
  const [command = 'node', ...args] = argv;
  const child = spawn(command === 'node' ? process.execPath : command, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

export function exited(running: Running): Promise<number | null> {
  if (running.child.exitCode !== null) return Promise.resolve(running.child.exitCode);
  return new Promise((resolve) => running.child.once('exit', (code) => resolve(code)));
}
