/**
 * The demand model's public surface: train, export, forecast. Everything exported here is
 * what subgraphs and commands may rely on; the rest of the folder is internal.
 */
export {
  DemandForecaster,
  encodeDemandModel,
  forecastWithTrainer,
  minTrainingHistory,
  resolveDemandOptions,
  strategyFor,
  trainDemandModel,
} from './demand-model';
export type {
  DemandModel,
  DemandModelDescription,
  DemandModelOptions,
  ForecastMethod,
  ForecastStrategy,
  IntervalQuantiles,
  SeriesForecast,
  SeriesWeighting,
} from './demand-model';
export { DEMAND_TENSORS } from './export';
export { DEMAND_FEATURE_NAMES } from '../forecasting/features';
export type { AnchorKind } from '../forecasting/features';
export type { DemandSeries } from '../forecasting/series';
