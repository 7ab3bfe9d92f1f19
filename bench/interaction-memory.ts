/**
 * What one list of the recommendations trainer's interactions holds, per (member, book) pair:
 * an object each (how the trainer held them before 2026-12-07) against three typed columns
 * (`InteractionColumns`, how it holds them now), at a cut-off 30 days before the library's clock.
 *
 *   npm run build && node --expose-gc dist/bench/interaction-memory.js --db PATH
 *
 * Reads the store only. Prints one JSON line: pairs, heap bytes of the objects, array-buffer
 * bytes of the columns (each after a full collection), the histories' heap, CPU seconds.
 */
import 'reflect-metadata';
import { parseFlags } from '../src/cli/flags';
import { borrowingHistoriesInChunks } from '../src/features/recommendations';
import type { Interaction, InteractionColumns } from '../src/ml/recommender';
import { openStore, readAsOf } from '../src/store';
import { addDays } from '../src/util/dates';

function settled(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { db: 'string' }, 'usage: node --expose-gc dist/bench/interaction-memory.js --db PATH');
  if (!flags.db) throw new Error('--db is required');
  const store = openStore(`sqlite:${flags.db}`, { readonly: true });
  try {
    const asOf = await readAsOf(store);
    const memberIds = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', asOf).orderBy('id').execute()).map((r) => r.id);
    const books = (await store.db.selectFrom('books').select('id').orderBy('id').execute()).map((b) => b.id);
    const itemIndexOf = new Map(books.map((id, i) => [id, i]));
    const cpu = process.cpuUsage();
    const before = settled();
    const histories = await borrowingHistoriesInChunks(store, memberIds, addDays(asOf, -30));
    const withHistories = settled();
    const objects: Interaction[] = [];
    histories.forEach((history, userIndex) =>
      history?.bookIds.forEach((bookId, j) => {
        const itemIndex = itemIndexOf.get(bookId);
        if (itemIndex !== undefined) objects.push({ userIndex, itemIndex, weight: history.loanCounts[j]! });
      }),
    );
    const withObjects = settled();
    const pairs = objects.length;
    const columns: InteractionColumns = {
      userIndex: Int32Array.from(objects, (x) => x.userIndex),
      itemIndex: Int32Array.from(objects, (x) => x.itemIndex),
      weight: Float64Array.from(objects, (x) => x.weight),
    };
    objects.length = 0;
    const withColumns = settled();
    const used = process.cpuUsage(cpu);
    const objectBytes = withObjects.heapUsed - withHistories.heapUsed;
    const columnBytes = withColumns.arrayBuffers - withObjects.arrayBuffers;
    process.stdout.write(
      `${JSON.stringify({
        members: memberIds.length,
        pairs: columns.userIndex.length,
        historiesHeapMB: Math.round((withHistories.heapUsed - before.heapUsed) / 1e6),
        objectsHeapMB: Math.round(objectBytes / 1e6),
        columnsMB: Math.round(columnBytes / 1e6),
        bytesPerObject: Number((objectBytes / pairs).toFixed(1)),
        bytesPerColumnPair: Number((columnBytes / pairs).toFixed(1)),
        cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(1)),
      })}\n`,
    );
  } finally {
    await store.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`interaction-memory: ${error.message}\n`);
  process.exit(1);
});
