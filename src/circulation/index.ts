/**
 * Circulation: the library's one write path (checkouts, returns, renewals, new members and the
 * clock) and what followers read of it. Everything exported here is its public surface.
 */
export { applyEvent, applyEvents, type AppliedEvent, type ApplyOptions, type ChangedEntity, type EventResult, type Outcome } from './apply';
export { effectiveClock, readClock, realToday, STORED_CLOCK, type ClockMode, type LibraryClock } from './clock';
export { CirculationError, REFUSAL_REASONS, type RefusalReason } from './errors';
export { canonicalContent, contentHash, EVENT_TYPES, normaliseTime, parseEvent, type CirculationEvent, type EventType, type LoanRef } from './events';
export { CHANGES_CHANNEL, changeSignalFile, latestChange, MAX_CHANGES_PER_READ, notifyChanges, readChanges, type ChangeRecord } from './feed';
export { eventWriter, MAX_EVENTS_PER_TRANSACTION, type EventWriter } from './writer';
export { DEFAULT_BATCH_SIZE, ingestEvents, MAX_BATCH_SIZE, type IngestOptions, type IngestProgress, type RefusedLine } from './ingest';
export { branchKey, kohaEvent, kohaEventId, kohaStatisticsEvents, MAX_LINE_BYTES, ndjsonEvents, SOURCE_FORMATS, type KohaMapping, type SourceFormat, type SourceLine } from './sources';
