/**
 * Before a whole-suite run (`npm test`), builds the shared small library (600 members, every
 * model trained) and the two libraries without models that tests generate, once, outside any
 * test's hook timeout and outside jest's vm (where training and the simulator run several times
 * slower): whichever test comes first no longer pays for them. A run of chosen files builds them
 * on first use, as before, unless SHELFMARK_TEST_PREBUILD=1. The fixture keys its folders by
 * process id, and with one worker (`--runInBand`) jest runs the tests in this same process, so
 * they find them built.
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
  // Tests that ask for some of its models (the demand evaluation asks for demand alone) get this
  // one too: the fixture reuses it rather than generating and training the same data again.
  const library = await smallLibrary();
  // The libraries without models that the evaluation tests (seed 11) and the outcome tests
  // (seed 7) generate: no training, but the simulator too is slower in the vm.
  const bare = [await smallLibrary({ models: [] }), await smallLibrary({ seed: 11, members: 600, models: [] })];
  process.stdout.write(`Built ${[library, ...bare].map((l) => l.dir).join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
}
