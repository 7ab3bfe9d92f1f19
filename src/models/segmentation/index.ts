/**
 * The segmentation model, as its trainer and its subgraph both read it: the features it takes,
 * the serving settings a version carries (its segments' names, descriptions and profiles) and
 * how they are parsed, and the memos its subgraph serves from.
 */
import { carryMemberActivity, memberActivityById } from '../../features/member-activity';
import { SEGMENTATION_FEATURE_NAMES } from '../../features/segmentation';
import { SEGMENTATION_OUTPUTS, type SegmentProfile } from '../../ml/kmeans';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import { checkFeatureSpec, type ServingMetadata, type SlotSpec } from '../../model-runtime/model-slot';

export const SEGMENTATION_MODEL = 'segmentation';

/** The columns of the graph's input, in order. */
export { SEGMENTATION_FEATURE_NAMES };

/** A segment as the subgraph serves it: its profile on the training date (size and share of all members). */
export type ServedSegment = SegmentProfile;

/** What the segmentation subgraph reads from metadata.serving; it travels with the version. */
export interface SegmentationServing {
  featureNames: string[];
  /** By segment id, the index the ONNX `segment` output answers with. */
  segments: ServedSegment[];
}

/**
 * Reads and checks metadata.serving of a segmentation version: its features, a named segment
 * per centroid, and a `segment` output. Throws on a version this code cannot serve.
 */
export function parseSegmentationServing(metadata: ServingMetadata): SegmentationServing {
  checkFeatureSpec(metadata, SEGMENTATION_FEATURE_NAMES);
  const serving = segmentationServing(metadata.serving, SEGMENTATION_FEATURE_NAMES);
  const what = `${metadata.name} ${metadata.version}`;
  if (!metadata.outputs.some((o) => o.name === SEGMENTATION_OUTPUTS.segment)) {
    throw new Error(`${what}: metadata lists no "${SEGMENTATION_OUTPUTS.segment}" output`);
  }
  const distances = metadata.outputs.find((o) => o.name === SEGMENTATION_OUTPUTS.distances) as { shape?: (number | string)[] } | undefined;
  const k = distances?.shape?.[1];
  if (typeof k === 'number' && k !== serving.segments.length) {
    throw new Error(`${what}: the graph has ${k} centroids but metadata.serving names ${serving.segments.length} segments`);
  }
  return serving;
}

/** Reads and checks the settings object itself (throws on a malformed one). */
export function segmentationServing(serving: Record<string, unknown> | undefined, featureNames: readonly string[]): SegmentationServing {
  const candidate = serving as Partial<SegmentationServing> | undefined;
  if (!candidate || !Array.isArray(candidate.segments) || !Array.isArray(candidate.featureNames)) {
    throw new Error('segmentation metadata.serving needs featureNames and segments');
  }
  if (candidate.featureNames.join(',') !== featureNames.join(',')) {
    throw new Error(`segmentation metadata.serving has features [${candidate.featureNames.join(', ')}], expected [${featureNames.join(', ')}]`);
  }
  candidate.segments.forEach((s, i) => {
    if (s?.id !== i || typeof s.name !== 'string' || typeof s.description !== 'string') {
      throw new Error(`segmentation metadata.serving: segment at position ${i} needs id ${i}, a name and a description`);
    }
  });
  if (candidate.segments.length === 0) throw new Error('segmentation metadata.serving has no segments');
  return { featureNames: candidate.featureNames, segments: candidate.segments };
}

export const SEGMENTATION_SLOT: SlotSpec<SegmentationServing> = { model: SEGMENTATION_MODEL, serving: parseSegmentationServing };

/** Member.segment and the segment overview read each member's loan activity. */
export const SEGMENTATION_MEMOS = { memberActivity: { compute: memberActivityById, carry: carryMemberActivity } } satisfies MemoSources;
