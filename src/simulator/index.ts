/**
 * The library simulator: everything exported here is its public surface. `generateLibrary`
 * builds a store; `simulateLibrary` gives the same library in memory; the catalogue exports
 * say how titles are shelved.
 */
export {
  DEFAULT_AS_OF,
  DEFAULT_MEMBERS,
  DEFAULT_SEED,
  DEFAULT_YEARS,
  generateLibrary,
  libraryTables,
  simulateLibrary,
  summariseLibrary,
  SIMULATOR_VERSION,
} from './generate';
export type {
  GenerateOptions,
  GenerationPhase,
  GenerationProgress,
  GenerationSummary,
  ProgressListener,
  SimulatedLibrary,
  SimulationOptions,
} from './generate';
export {
  COLLECTIONS,
  GENRES,
  LIBRARIESWEST_ITEM_TYPES,
  LOAN_PERIOD_DAYS,
  loadCatalogue,
  type CatalogueBook,
  type Collection,
  type Genre,
  type ItemFormat,
} from './catalogue';
export { CHURN_WINDOW_DAYS } from './churn';
export { LATE_TARGETS } from './lateness';
export { MONTH_FACTORS } from './seasonality';
export { rocAuc, type ChurnCheck, type OverdueShare } from './summary';
export { describeTarget, resolveTarget, TargetError, TargetExistsError, withDefaultPostgresUser, type WriteTarget } from './writer';
export { liveOn, MAX_LIVING_DAYS, parseShift, ShiftError, type LivedDay, type LivingOptions, type LivingSummary, type Shift } from './living';
