/**
 * Outcomes from circulation, joined point in time to the predictions the log recorded. The live
 * monitor and offline checks both judge predictions here, so they agree on what happened.
 *
 * Contract: `judgeOutcomes(store, model, predictions, clock)` answers, for each prediction, one
 * of
 * - `known`: what happened and the library day it became known (`knownOn` ≤ `clock`);
 * - `pending`: not known yet on `clock`;
 * - `after_the_fact`: the prediction was made on or after the day its outcome became known, so
 *   it is never joined (nor are predictions of something it cannot judge, such as a loan the
 *   store does not hold);
 * - `not_judged`: a prediction this module has no outcome for (a member's overdue risk over
 *   all open loans, similar books, collection forecasts).
 *
 * Time is the library clock's: a prediction's day is its record's `asOf`, and an outcome known
 * on day K is joined only to predictions made on a day before K. Within one day the order of a
 * prediction and an event is not recorded, so a prediction made on K is treated as after it.
 *
 * What each model's prediction is judged by (its `subject` names what the outcome is about):
 * - overdue (entity `loan`): late when returned after its final due date, or still out once
 *   the clock is past it (known the day after the due date); on time when returned by then
 *   (known the day of the return). Subject: the loan.
 * - churn (entity `member`): churned when the member makes no checkout in the 90 days after the
 *   prediction's day (CHURN_WINDOW_DAYS, as the trainer labels), known the day after the
 *   window ends; not churned as of the first checkout in it. Subject: member@day. An answer
 *   a rule gave instead of the model (LAPSED, see `answeredByRule`) is not judged.
 * - recommendations (entity `member`): a hit when any recommended book is checked out by the
 *   member within 30 days after the prediction's day, known once the 30 days are over (the
 *   whole set is needed for NDCG). Subject: member@day.
 * - demand (entity `book`): each forecast week's actual checkouts of the book, known once the
 *   week is over, beside the seasonal naive forecast (the same book's checkouts 52 weeks
 *   earlier). Only weeks starting after the prediction's day are judged. Subject: book@week.
 * - segmentation: stability is judged between predictions (see `segmentChanges`), not here.
 *
 * `liveOutcomes` keeps, per subject, the prediction that was live when its outcome became known:
 * the latest one made before `knownOn`.
 */
import type { Kysely } from 'kysely';
import { CHURN_WINDOW_DAYS } from '../features/churn';
import { loanWasLate } from '../features/overdue';
import type { Database, Store } from '../store';
import { chunks } from '../store/in-chunks';
import { addDays, weekStart } from '../util/dates';
import type { PredictionRecord } from './prediction-log';

/** Days after a recommendation within which a borrowed recommended book counts as a hit. */
export const RECOMMENDATION_HIT_DAYS = 30;
/** Weeks back of the seasonal naive forecast. */
export const SEASONAL_NAIVE_WEEKS = 52;

const IDS_PER_QUERY = 500;

export type OutcomeStatus = 'known' | 'pending' | 'after_the_fact' | 'not_judged';

export interface KnownOutcome {
  /** 1 or 0 for late, churned and hit; the week's checkouts for demand. */
  value: number;
  /** The library day the outcome became known. */
  knownOn: string;
  /**
   * Overdue and churn: the day the outcome is settled whichever way it goes (the day after the
   * loan's final due date, after the churn window), on or after `knownOn`: an on-time return or
   * a checkout in the window is known earlier. The outcome ratio's windows go by this day.
   */
  settledOn?: string;
  /** Recommendations: the recommended ids in rank order, and the books borrowed in the 30 days. */
  ranked?: string[];
  borrowed?: string[];
  /** Demand: the forecast for the week and the seasonal naive forecast. */
  forecast?: number;
  seasonalNaive?: number;
}

export interface Judgement {
  prediction: PredictionRecord;
  /** What the outcome is about, unique per model: `loan:12`, `member:7@2024-05-01`, `book:3@2024-06-03`. */
  subject: string;
  status: OutcomeStatus;
  outcome: KnownOutcome | null;
}

/**
 * The label a risk answer is logged with when a rule gave it instead of the model: churn's
 * LAPSED, a member with no checkout in the 90 days before the date, whose probability is one
 * constant share. Such records stay in the log, but they judge nothing of the model: the
 * versions that answer LAPSED were trained and evaluated on active members only, so their
 * live figures (and drift) must leave lapsed members out to be comparable with the offline ones.
 */
export const RULE_ANSWER_LABEL = 'LAPSED';

/** True for a record of an answer a rule gave instead of the model (see RULE_ANSWER_LABEL). */
export function answeredByRule(record: Pick<PredictionRecord, 'label'>): boolean {
  return record.label === RULE_ANSWER_LABEL;
}

/** The library day a record was predicted on: its clock date, or the date of its timestamp. */
export function predictionDay(record: PredictionRecord): string {
  return record.asOf ?? record.at.slice(0, 10);
}

function judgement(prediction: PredictionRecord, subject: string, status: OutcomeStatus, outcome: KnownOutcome | null = null): Judgement {
  return { prediction, subject, status, outcome };
}

type Db = Kysely<Database>;

async function loansById(db: Db, ids: readonly number[]) {
  const loans = new Map<number, { id: number; member_id: number; book_id: number; branch_id: number; checked_out_at: string; due_at: string; returned_at: string | null; renewals: number }>();
  for (const part of chunks(ids, IDS_PER_QUERY)) {
    for (const loan of await db.selectFrom('loans').selectAll().where('id', 'in', part).execute()) loans.set(loan.id, loan);
  }
  return loans;
}

/** Checkouts of the members from `from` (exclusive) to `through` (inclusive), per member in date order. */
async function checkoutsOf(db: Db, memberIds: readonly number[], from: string, through: string): Promise<Map<number, Array<{ day: string; bookId: number }>>> {
  const byMember = new Map<number, Array<{ day: string; bookId: number }>>();
  for (const part of chunks(memberIds, IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('loans')
      .select(['member_id', 'book_id', 'checked_out_at'])
      .where('member_id', 'in', part)
      .where('checked_out_at', '>', from)
      .where('checked_out_at', '<=', through)
      .orderBy('checked_out_at')
      .execute();
    for (const row of rows) {
      const list = byMember.get(row.member_id) ?? [];
      list.push({ day: row.checked_out_at, bookId: row.book_id });
      byMember.set(row.member_id, list);
    }
  }
  return byMember;
}

function numericId(id: string): number | null {
  return /^\d+$/.test(id) ? Number(id) : null;
}

function dayRange(predictions: readonly PredictionRecord[]): { first: string; last: string } {
  const days = predictions.map(predictionDay).sort();
  return { first: days[0] ?? '', last: days[days.length - 1] ?? '' };
}

async function judgeOverdue(db: Db, predictions: readonly PredictionRecord[], clock: string): Promise<Judgement[]> {
  const loanIds = predictions.filter((p) => p.entityKind === 'loan').map((p) => numericId(p.entityId)).filter((id): id is number => id !== null);
  const loans = await loansById(db, [...new Set(loanIds)]);
  return predictions.map((p) => {
    const subject = `loan:${p.entityId}`;
    if (p.entityKind !== 'loan' || p.score === null) return judgement(p, `${p.entityKind}:${p.entityId}`, 'not_judged');
    const loan = loans.get(numericId(p.entityId) ?? -1);
    const day = predictionDay(p);
    // A prediction for a loan already back, already late or not yet checked out judges nothing.
    if (!loan || day < loan.checked_out_at || loanWasLate(loan, day) !== undefined) return judgement(p, subject, 'after_the_fact');
    const late = loanWasLate(loan, clock);
    if (late === undefined) return judgement(p, subject, 'pending');
    const knownOn = late ? addDays(loan.due_at, 1) : (loan.returned_at ?? clock);
    return judgement(p, subject, 'known', { value: late ? 1 : 0, knownOn, settledOn: addDays(loan.due_at, 1) });
  });
}

async function judgeChurn(db: Db, predictions: readonly PredictionRecord[], clock: string): Promise<Judgement[]> {
  const members = predictions.filter((p) => p.entityKind === 'member' && p.score !== null && !answeredByRule(p)).map((p) => numericId(p.entityId)).filter((id): id is number => id !== null);
  const { first, last } = dayRange(predictions);
  const checkouts = await checkoutsOf(db, [...new Set(members)], first, addDays(last, CHURN_WINDOW_DAYS));
  return predictions.map((p) => {
    const day = predictionDay(p);
    const subject = `member:${p.entityId}@${day}`;
    if (p.entityKind !== 'member' || p.score === null || answeredByRule(p)) return judgement(p, subject, 'not_judged');
    const windowEnd = addDays(day, CHURN_WINDOW_DAYS);
    const next = (checkouts.get(numericId(p.entityId) ?? -1) ?? []).find((c) => c.day > day && c.day <= windowEnd && c.day <= clock);
    const settledOn = addDays(windowEnd, 1);
    if (next) return judgement(p, subject, 'known', { value: 0, knownOn: next.day, settledOn });
    if (clock > windowEnd) return judgement(p, subject, 'known', { value: 1, knownOn: settledOn, settledOn });
    return judgement(p, subject, 'pending');
  });
}

async function judgeRecommendations(db: Db, predictions: readonly PredictionRecord[], clock: string): Promise<Judgement[]> {
  const members = predictions.filter((p) => p.entityKind === 'member' && p.items).map((p) => numericId(p.entityId)).filter((id): id is number => id !== null);
  const { first, last } = dayRange(predictions);
  const checkouts = await checkoutsOf(db, [...new Set(members)], first, addDays(last, RECOMMENDATION_HIT_DAYS));
  return predictions.map((p) => {
    const day = predictionDay(p);
    const subject = `member:${p.entityId}@${day}`;
    if (p.entityKind !== 'member' || !p.items) return judgement(p, `${p.entityKind}:${p.entityId}@${day}`, 'not_judged');
    const windowEnd = addDays(day, RECOMMENDATION_HIT_DAYS);
    if (clock <= windowEnd) return judgement(p, subject, 'pending');
    const borrowed = [...new Set((checkouts.get(numericId(p.entityId) ?? -1) ?? []).filter((c) => c.day > day && c.day <= windowEnd).map((c) => String(c.bookId)))];
    const ranked = p.items.map((item) => item.id);
    const hit = ranked.some((id) => borrowed.includes(id));
    return judgement(p, subject, 'known', { value: hit ? 1 : 0, knownOn: addDays(windowEnd, 1), ranked, borrowed });
  });
}

/** Checkouts per book and week start (Monday) over [from, through]. */
async function weeklyCheckouts(db: Db, bookIds: readonly number[], from: string, through: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const part of chunks(bookIds, IDS_PER_QUERY)) {
    const rows = await db.selectFrom('loans').select(['book_id', 'checked_out_at']).where('book_id', 'in', part).where('checked_out_at', '>=', from).where('checked_out_at', '<=', through).execute();
    for (const row of rows) {
      const key = `${row.book_id}@${weekStart(row.checked_out_at)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** One judgement per forecast week of each book forecast (a record answers for several weeks). */
async function judgeDemand(db: Db, predictions: readonly PredictionRecord[], clock: string): Promise<Judgement[]> {
  const books = predictions.filter((p) => p.entityKind === 'book' && p.items).map((p) => numericId(p.entityId)).filter((id): id is number => id !== null);
  const weeks = predictions.flatMap((p) => (p.entityKind === 'book' ? (p.items ?? []).map((item) => item.id) : [])).sort();
  const firstWeek = weeks[0];
  const lastWeek = weeks[weeks.length - 1];
  const counts = firstWeek && lastWeek ? await weeklyCheckouts(db, [...new Set(books)], addDays(firstWeek, -7 * SEASONAL_NAIVE_WEEKS), addDays(lastWeek, 6)) : new Map<string, number>();
  return predictions.flatMap((p) => {
    const day = predictionDay(p);
    if (p.entityKind !== 'book' || !p.items) return [judgement(p, `${p.entityKind}:${p.entityId}@${day}`, 'not_judged')];
    return p.items.map((item) => {
      const week = item.id;
      const subject = `book:${p.entityId}@${week}`;
      if (week <= day) return judgement(p, subject, 'after_the_fact');
      const weekEnd = addDays(week, 6);
      if (clock <= weekEnd) return judgement(p, subject, 'pending');
      const naiveWeek = addDays(week, -7 * SEASONAL_NAIVE_WEEKS);
      return judgement(p, subject, 'known', {
        value: counts.get(`${p.entityId}@${week}`) ?? 0,
        knownOn: addDays(weekEnd, 1),
        forecast: item.score,
        seasonalNaive: counts.get(`${p.entityId}@${naiveWeek}`) ?? 0,
      });
    });
  });
}

/** The models whose predictions have outcomes in circulation. */
export const JUDGED_MODELS = ['overdue', 'churn', 'recommendations', 'demand'] as const;
export type JudgedModel = (typeof JUDGED_MODELS)[number];

export function isJudgedModel(model: string): model is JudgedModel {
  return (JUDGED_MODELS as readonly string[]).includes(model);
}

/**
 * Judges `predictions` of `model` against the store as it stands, as of the library day
 * `clock`. Outcomes after `clock` are not seen, so a store that has moved on can be judged as
 * of an earlier day.
 */
export async function judgeOutcomes(store: Pick<Store, 'db'>, model: string, predictions: readonly PredictionRecord[], clock: string): Promise<Judgement[]> {
  if (predictions.length === 0) return [];
  if (!isJudgedModel(model)) return predictions.map((p) => judgement(p, `${p.entityKind}:${p.entityId}@${predictionDay(p)}`, 'not_judged'));
  const wrong = predictions.find((p) => p.model !== model);
  if (wrong) throw new Error(`judgeOutcomes(${model}) was given a prediction of ${wrong.model}`);
  switch (model) {
    case 'overdue':
      return judgeOverdue(store.db, predictions, clock);
    case 'churn':
      return judgeChurn(store.db, predictions, clock);
    case 'recommendations':
      return judgeRecommendations(store.db, predictions, clock);
    case 'demand':
      return judgeDemand(store.db, predictions, clock);
    default: {
      const unknown: never = model;
      throw new Error(`no outcome is defined for ${String(unknown)}`);
    }
  }
}

/** Later-made first: by day, then wall time, then process and sequence. */
export function madeLater(a: PredictionRecord, b: PredictionRecord): boolean {
  const dayA = predictionDay(a);
  const dayB = predictionDay(b);
  if (dayA !== dayB) return dayA > dayB;
  if (a.at !== b.at) return a.at > b.at;
  if (a.processId !== b.processId) return a.processId > b.processId;
  return a.sequence > b.sequence;
}

/**
 * The known outcomes, each joined to the prediction that was live when it became known: per
 * subject, the latest prediction made before `knownOn` (judgements already exclude the rest).
 */
export function liveOutcomes(judgements: readonly Judgement[]): Judgement[] {
  const live = new Map<string, Judgement>();
  for (const j of judgements) {
    if (j.status !== 'known') continue;
    const seen = live.get(j.subject);
    if (!seen || madeLater(j.prediction, seen.prediction)) live.set(j.subject, j);
  }
  return [...live.values()];
}

/** A member's segment changing (or not) between consecutive segmentation predictions on different days. */
export interface SegmentChange {
  memberId: string;
  version: string;
  day: string;
  previous: string;
  segment: string;
}

/**
 * Consecutive segment assignments per member, from records in any order: each record on a
 * later day than the member's previous one is compared with it (the last record of a day
 * stands for that day).
 */
export function segmentChanges(records: readonly PredictionRecord[], previous: Map<string, { day: string; segment: string }> = new Map()): SegmentChange[] {
  const lastOfDay = new Map<string, PredictionRecord>();
  for (const r of records) {
    if (r.model !== 'segmentation' || r.label === null || r.label === undefined) continue;
    const key = `${r.entityId}@${predictionDay(r)}`;
    const seen = lastOfDay.get(key);
    if (!seen || madeLater(r, seen)) lastOfDay.set(key, r);
  }
  const ordered = [...lastOfDay.values()].sort((a, b) => (predictionDay(a) < predictionDay(b) ? -1 : predictionDay(a) > predictionDay(b) ? 1 : 0));
  const changes: SegmentChange[] = [];
  for (const r of ordered) {
    const day = predictionDay(r);
    const segment = r.label ?? '';
    const before = previous.get(r.entityId);
    if (before && before.day < day) changes.push({ memberId: r.entityId, version: r.version, day, previous: before.segment, segment });
    if (!before || before.day <= day) previous.set(r.entityId, { day, segment });
  }
  return changes;
}
