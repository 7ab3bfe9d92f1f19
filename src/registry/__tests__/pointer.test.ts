import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { promoteVersion, readProductionPointer, rollback, watchProductionPointer } from '..';
import type { ProductionPointer } from '..';
import { registerChurn, tempModelsDir } from './fixtures';

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('readProductionPointer', () => {
  it('answers null until a version is promoted, then follows promotions and rollbacks', async () => {
    const modelsDir = tempModelsDir();
    expect(readProductionPointer(modelsDir, 'churn')).toBeNull();
    const first = await registerChurn(modelsDir, { auc: 0.8 });
    expect(readProductionPointer(modelsDir, 'churn')).toBeNull();

    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    expect(readProductionPointer(modelsDir, 'churn')).toEqual({ version: '1.0.0', dir: path.join(modelsDir, 'production', 'churn', '1.0.0'), sha256: first.metadata.sha256 });

    const second = await registerChurn(modelsDir, { auc: 0.81, weights: [1, 1, 1] });
    await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ana' });
    expect(readProductionPointer(modelsDir, 'churn')).toMatchObject({ version: '1.1.0', sha256: second.metadata.sha256 });
    await rollback(modelsDir, 'churn', { who: 'ana' });
    expect(readProductionPointer(modelsDir, 'churn')).toMatchObject({ version: '1.0.0', sha256: first.metadata.sha256 });
  });

  it('tells a watcher about each change once', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await registerChurn(modelsDir, { auc: 0.81 });
    const seen: (ProductionPointer | null)[] = [];
    const watch = watchProductionPointer(modelsDir, 'churn', (pointer) => seen.push(pointer), { intervalMs: 10 });
    try {
      await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
      await waitFor(() => seen.length === 2);
      await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ana' });
      await waitFor(() => seen.length === 3);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      watch.stop();
    }
    expect(seen.map((p) => p?.version ?? null)).toEqual([null, '1.0.0', '1.1.0']);
  });
});
