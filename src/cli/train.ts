/** `npm run train -- [--model NAME] [--db PATH] [--seed N] [--threads N] [--promote]`: train, evaluate, register. */
import 'reflect-metadata';
import { loadConfig, MODEL_NAMES, type ModelName } from '../config';
import { currentUser } from '../registry';
import { openStore } from '../store';
import { DEFAULT_MAX_THREADS, defaultTrainingThreads, TRAINERS, trainAndRegister } from '../training';
import { parseFlags } from './flags';

const USAGE = `usage: npm run train -- [--model NAME] [--db PATH] [--seed N] [--threads N] [--promote]
  Trains one model (${MODEL_NAMES.join(', ')}) or all of them on the store, evaluates each on held-out
  data next to its baseline (and the simulator's oracle), and registers a new version: staging/ when it
  beats its baseline, experiments/ when it does not. --promote also promotes a staging version that
  passes validation. Deterministic for a seed (default 42).
  --db      sqlite path or postgres:// URL (default: DATABASE_URL or data/shelfmark.db)
  --threads threads for the steps that split over them (the recommender's ALS sweeps); the model is
            the same for any number (default: the machine's cores, at most ${DEFAULT_MAX_THREADS})`;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { model: 'string', db: 'string', seed: 'number', threads: 'number', promote: 'boolean' }, USAGE);
  const config = loadConfig();
  const names = (flags.model ? [flags.model] : MODEL_NAMES.filter((n) => TRAINERS[n])) as ModelName[];
  for (const name of names) {
    if (!TRAINERS[name]) throw new Error(`unknown model "${name}"; known: ${Object.keys(TRAINERS).join(', ')}`);
  }
  const url = flags.db ? (flags.db.includes('://') || flags.db.startsWith('sqlite:') ? flags.db : `sqlite:${flags.db}`) : config.databaseUrl;
  const store = openStore(url, { readonly: url.startsWith('sqlite:') });
  const started = Date.now();
  const progress = (message: string, details?: Record<string, unknown>) => {
    const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${elapsed}s] ${message}${details ? ` ${JSON.stringify(details)}` : ''}\n`);
  };
  try {
    for (const name of names) {
      const { registered, seconds, promoted } = await trainAndRegister(name, store, {
        seed: flags.seed ?? 42,
        threads: flags.threads ?? defaultTrainingThreads(),
        progress,
        modelsDir: config.modelsDir,
        who: currentUser(),
        promote: flags.promote ?? false,
      });
      const m = registered.metadata;
      const baseline = m.metrics.baseline.metrics[m.headlineMetric.name];
      const oracle = m.metrics.oracle?.metrics[m.headlineMetric.name];
      process.stdout.write(
        `${name} ${m.version} -> ${promoted ? 'production' : m.stage}: ${m.headlineMetric.name} ${m.headlineMetric.value.toFixed(4)}` +
          ` (baseline ${m.metrics.baseline.name}: ${baseline === undefined ? 'n/a' : baseline.toFixed(4)}` +
          `${oracle === undefined ? '' : `, oracle ${oracle.toFixed(4)}`}), parity max error ${m.parity.maxAbsError}, ${seconds.toFixed(1)} s\n`,
      );
    }
  } finally {
    await store.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`train: ${error.message}\n`);
  process.exit(1);
});
