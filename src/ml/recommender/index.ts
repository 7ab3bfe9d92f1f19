/**
 * The recommender's public surface: everything exported here is what the recommendations
 * subgraph, the training command and the `recommend` command may rely on.
 *
 *   trainRecommender(data, hyperparameters?, options?)  implicit ALS with a content prior, blended
 *                                  with popularity and co-borrowing neighbourhoods (weights
 *                                  learned on validation)
 *   exportRecommenderOnnx(model)   user_index int64 [batch], seen_items and seen_rows int64 [seen]
 *                                  (every history flat, with its row: flattenSeenItems), k int64 [1]
 *                                  -> scores float [batch, k], items int64 [batch, k]
 *   exportSimilarItemsOnnx(model)  item_index int64 [batch], k int64 [1] -> scores, items
 *   RecommenderSession / SimilarItemsSession   run them with onnxruntime-node, in batches
 *   recommendThroughOnnx(request)  string ids in, ranked lists out, through the ONNX graph
 */
export { bookContentFeatures, buildItemContent, publicationEra } from './content';
export type { BookContent, ItemContent, NamedFeatures } from './content';
export { DEFAULT_BATCH_SIZE, rankedLists, recommenderFeeds, RecommenderSession, similarItemsFeeds, SimilarItemsSession } from './inference';
export type { RecommendationQuery } from './inference';
export { InputError, parseInteractionsCsv, parseUserList, readCsvColumns } from './input-files';
export type { CsvRow, InteractionRecord } from './input-files';
export { DEFAULT_HYPERPARAMETERS, NEIGHBOURHOOD_WEIGHT_GRID, POPULARITY_WEIGHT_GRID } from './model';
export type {
  BlendTrial,
  Interaction,
  InteractionColumns,
  RecommenderHyperparameters,
  RecommenderModel,
  RecommenderTrainingData,
  RecommenderTrainingReport,
} from './model';
export {
  ANONYMOUS_USER_INDEX,
  exportRecommenderOnnx,
  exportSimilarItemsOnnx,
  flattenSeenItems,
  RECOMMENDER_TENSORS,
  SIMILAR_ITEMS_TENSORS,
} from './onnx-export';
export type { ExportOptions } from './onnx-export';
export { checkRecommenderParity, checkSimilarItemsParity, PARITY_TOLERANCE, rankedListsAgree } from './parity';
export type { ParityReport } from './parity';
export { indexInteractions, recommendThroughOnnx } from './pipeline';
export type { MemberRecommendations, RecommendRequest, RecommendResult } from './pipeline';
export { popularityTopK, recommendTopK, similarItemsTopK } from './scoring';
export type { RankedItems } from './scoring';
export { trainRecommender } from './trainer';
export type { TrainingPhase, TrainingProgress, TrainOptions } from './trainer';
