/**
 * CPU of the recommendations graph per Member.recommendations request, two versions interleaved
 * in one process (same load for both): each round sends the same members, one request each
 * (batch 1, k 10, their whole history as the subgraph sends it), to version A then version B,
 * and alternates which goes first. The history query, reasons and GraphQL are the same code
 * for every version, so only the ONNX run is timed.
 *
 *   npm run build && node dist/bench/recommendations-inference.js --models-dir models --a 2.1.0 --b 2.2.0 [--db PATH] [--members 300] [--rounds 6]
 *
 * Prints one JSON line: per version the ONNX file's bytes, CPU µs per request (user + system,
 * median over rounds) and the lists' agreement between the two.
 */
import 'reflect-metadata';
import { statSync } from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../src/cli/flags';
import { borrowingHistoriesInChunks, recommendationIndex, recommendationQuery } from '../src/features/recommendations';
import { RecommenderSession } from '../src/ml/recommender';
import { readRegistry } from '../src/registry/registry-file';
import { openStore, readAsOf } from '../src/store';
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node dist/bench/recommendations-inference.js --models-dir DIR --a VERSION --b VERSION [--db PATH] [--members N] [--rounds N]';

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { 'models-dir': 'string', a: 'string', b: 'string', db: 'string', members: 'number', rounds: 'number' }, USAGE);
  const modelsDir = flags['models-dir'] ?? 'models';
  if (!flags.a || !flags.b) throw new Error(USAGE);
  const record = readRegistry(modelsDir).models.recommendations;
  const dirOf = (version: string): string => {
    const entry = record?.versions[version];
    if (!entry) throw new Error(`recommendations ${version} is not registered in ${modelsDir}`);
    return path.join(modelsDir, entry.dir);
  };
  const versions = [flags.a, flags.b].map((version) => ({ version, dir: dirOf(version) }));
  const store = openStore(`sqlite:${flags.db ?? 'data/shelfmark.db'}`, { readonly: true });
  try {
    const asOf = await readAsOf(store);
    const memberIds = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', asOf).orderBy('id').execute()).map((r) => r.id);
    const step = Math.max(1, Math.floor(memberIds.length / (flags.members ?? 300)));
    const chosen = memberIds.filter((_, i) => i % step === 0).slice(0, flags.members ?? 300);
    const histories = (await borrowingHistoriesInChunks(store, chosen, asOf)).filter((h) => h !== undefined);
    const sessions = await Promise.all(
      versions.map(async (v) => {
        const index = recommendationIndex(JSON.parse(readFileSync(path.join(v.dir, 'index.json'), 'utf8')));
        const queries = histories.map((h) => recommendationQuery(index, h));
        return { ...v, queries, session: await RecommenderSession.create(path.join(v.dir, 'model.onnx')), bytes: statSync(path.join(v.dir, 'model.onnx')).size };
      }),
    );
    const rounds = flags.rounds ?? 6;
    const perRequest: number[][] = sessions.map(() => []);
    const lists: number[][][] = sessions.map(() => []);
    // One warm-up pass each, not measured.
    for (const s of sessions) for (const q of s.queries.slice(0, 20)) await s.session.recommend([q], 10);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const which of order) {
        const s = sessions[which]!;
        const cpu = process.cpuUsage();
        for (const q of s.queries) {
          const [ranked] = await s.session.recommend([q], 10);
          if (round === 0) lists[which]!.push(ranked!.items);
        }
        const used = process.cpuUsage(cpu);
        perRequest[which]!.push((used.user + used.system) / s.queries.length);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    let overlap = 0;
    lists[0]!.forEach((list, i) => (overlap += list.filter((item) => lists[1]![i]!.includes(item)).length / 10));
    const result = {
      members: histories.length,
      rounds,
      loadAverage: (await import('node:os')).loadavg()[0],
      versions: sessions.map((s, i) => ({ version: s.version, onnxBytes: s.bytes, cpuMicrosecondsPerRequest: Math.round(median(perRequest[i]!)), perRound: perRequest[i]!.map(Math.round) })),
      listOverlapAt10: overlap / histories.length,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    for (const s of sessions) await s.session.release();
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
