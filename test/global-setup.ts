/**
 * Before a whole-suite run (`npm test`), builds the shared small library (600 members, every
 * model trained) and the demand-only one once, outside any test's hook timeout: whichever test
 * comes first no longer pays for them. A run of chosen files builds them on first use, as before,
 * unless SHELFMARK_TEST_PREBUILD=1. The fixture keys its folder by process id, and with one worker
 * (`--runInBand`) jest runs the tests in this same process, so they find them built.
 */
import 'reflect-metadata';
import type { Config } from '@jest/types';
import { smallLibrary } from './fixtures/small-library';

export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  // One worker (`--runInBand`, as `npm test` runs) means the tests run in this process.
  const wholeSuite = globalConfig.testPathPattern === '' && globalConfig.maxWorkers === 1;
  if (!wholeSuite && process.env.SHELFMARK_TEST_PREBUILD !== '1') return;
  const started = Date.now();
  process.stdout.write('\nBuilding the shared small library for the suite (generate 600 members, train every model)...\n');
  const library = await smallLibrary();
  // The demand evaluation's own library (demand alone): its fold training is the slowest inside a test.
  const demand = await smallLibrary({ models: ['demand'] });
  process.stdout.write(`Built ${library.dir} and ${demand.dir} in ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
}
