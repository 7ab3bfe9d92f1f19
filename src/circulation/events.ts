/**
 * Circulation events as the write path accepts them, from GraphQL, NDJSON or a Koha export
 * alike: parsed from untrusted input into one typed shape, and written down canonically so
 * that "the same event" means the same bytes.
 */
import { createHash } from 'node:crypto';
import { malformed } from './errors';

export const EVENT_TYPES = ['checkOut', 'returnLoan', 'renewLoan', 'registerMember', 'advanceClock'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A loan named by its id, or (as a Koha export names it) by the member's open loan of a book. */
export type LoanRef = { loanId: number } | { memberId: number; bookId: number };

export type CirculationEvent =
  | { type: 'checkOut'; id: string; at: string; memberId: number; bookId: number; branchId: number; dueAt?: string }
  | ({ type: 'returnLoan'; id: string; at: string } & LoanRef)
  | ({ type: 'renewLoan'; id: string; at: string; dueAt?: string } & LoanRef)
  | { type: 'registerMember'; id: string; at: string; memberId?: number; name: string; email: string; branchId: number }
  | { type: 'advanceClock'; id: string; to: string };

/** The longest event id accepted: ids are keys, not payloads. */
export const MAX_EVENT_ID_LENGTH = 200;
const MAX_TEXT_LENGTH = 500;

type Raw = Record<string, unknown>;

function text(raw: Raw, field: string, id: string | undefined): string;
function text(raw: Raw, field: string, id: string | undefined, required: boolean): string | undefined;
function text(raw: Raw, field: string, id: string | undefined, required = true): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) {
    if (required) throw malformed(`${field} is required`, id);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0) throw malformed(`${field} must be a non-empty string, got ${JSON.stringify(value)}`, id);
  if (value.length > MAX_TEXT_LENGTH) throw malformed(`${field} is longer than ${MAX_TEXT_LENGTH} characters`, id);
  return value;
}

function entityId(raw: Raw, field: string, id: string | undefined): number;
function entityId(raw: Raw, field: string, id: string | undefined, required: boolean): number | undefined;
function entityId(raw: Raw, field: string, id: string | undefined, required = true): number | undefined {
  const value = raw[field];
  if (value === undefined || value === null) {
    if (required) throw malformed(`${field} is required`, id);
    return undefined;
  }
  const asText = typeof value === 'number' ? String(value) : value;
  if (typeof asText !== 'string' || !/^[1-9]\d{0,14}$/.test(asText)) throw malformed(`${field} must be a positive integer id, got ${JSON.stringify(value)}`, id);
  return Number(asText);
}

/**
 * A time as ISO-8601 UTC with milliseconds. Accepts a calendar day ('2025-01-31', midnight
 * UTC) or a date-time with a zone; a date-time without a zone is refused rather than guessed.
 */
export function normaliseTime(value: string, field: string, id?: string): string {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value);
  const ms = day || dateTime ? Date.parse(day ? `${value}T00:00:00Z` : value) : Number.NaN;
  if (Number.isNaN(ms)) throw malformed(`${field} must be a date (YYYY-MM-DD) or a date-time with a zone, got ${JSON.stringify(value)}`, id);
  const iso = new Date(ms).toISOString();
  if (day && iso.slice(0, 10) !== value) throw malformed(`${field} is not a calendar date: ${value}`, id);
  return iso;
}

function time(raw: Raw, field: string, id: string | undefined): string;
function time(raw: Raw, field: string, id: string | undefined, required: boolean): string | undefined;
function time(raw: Raw, field: string, id: string | undefined, required = true): string | undefined {
  const value = text(raw, field, id, required);
  return value === undefined ? undefined : normaliseTime(value, field, id);
}

function loanRef(raw: Raw, id: string): LoanRef {
  const loanId = entityId(raw, 'loanId', id, false);
  if (loanId !== undefined) return { loanId };
  const memberId = entityId(raw, 'memberId', id, false);
  const bookId = entityId(raw, 'bookId', id, false);
  if (memberId === undefined || bookId === undefined) throw malformed('loanId is required (or memberId and bookId, naming the member\'s open loan of the book)', id);
  return { memberId, bookId };
}

/** Parses one event from untrusted input; throws CirculationError('MALFORMED') naming the field. */
export function parseEvent(input: unknown): CirculationEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw malformed(`an event must be a JSON object, got ${JSON.stringify(input)?.slice(0, 80)}`);
  const raw = input as Raw;
  const id = raw.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_EVENT_ID_LENGTH) {
    throw malformed(`id must be a string of 1 to ${MAX_EVENT_ID_LENGTH} characters, got ${JSON.stringify(id)?.slice(0, 80)}`);
  }
  const type = raw.type;
  switch (type) {
    case 'checkOut': {
      const dueAt = time(raw, 'dueAt', id, false);
      return {
        type, id, at: time(raw, 'at', id), memberId: entityId(raw, 'memberId', id), bookId: entityId(raw, 'bookId', id), branchId: entityId(raw, 'branchId', id),
        ...(dueAt ? { dueAt } : {}),
      };
    }
    case 'returnLoan':
      return { type, id, at: time(raw, 'at', id), ...loanRef(raw, id) };
    case 'renewLoan': {
      const dueAt = time(raw, 'dueAt', id, false);
      return { type, id, at: time(raw, 'at', id), ...loanRef(raw, id), ...(dueAt ? { dueAt } : {}) };
    }
    case 'registerMember': {
      const memberId = entityId(raw, 'memberId', id, false);
      return {
        type, id, at: time(raw, 'at', id), name: text(raw, 'name', id), email: text(raw, 'email', id), branchId: entityId(raw, 'branchId', id),
        ...(memberId ? { memberId } : {}),
      };
    }
    case 'advanceClock':
      return { type, id, to: time(raw, 'to', id) };
    default:
      throw malformed(`type must be one of ${EVENT_TYPES.join(', ')}, got ${JSON.stringify(type)?.slice(0, 80)}`, id);
  }
}

/** The event's content as canonical JSON: keys sorted, times normalised. Two sends are "the same" when these match. */
export function canonicalContent(event: CirculationEvent): string {
  const entries = Object.entries(event).filter(([, value]) => value !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

export function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The library day an event happens on. */
export function eventDay(event: CirculationEvent): string {
  return (event.type === 'advanceClock' ? event.to : event.at).slice(0, 10);
}
