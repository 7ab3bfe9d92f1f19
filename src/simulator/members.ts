/**
 * Simulated members: who they are (name, branch, join date) and the hidden traits the models
 * have to recover from their loans (reliability, engagement, taste).
 */
import type { Random } from '../util/random';
import type { Calendar } from './calendar';
import { GENRES, type CatalogueBook, type Genre } from './catalogue';
import { BRANCHES, drawIdentity } from './people';
import type { SeasonalShape } from './seasonality';
import { pickFromShelf, type Shelves } from './shelves';
import { streamRandom } from './streams';

export type Profile = 'adult' | 'senior' | 'family' | 'teen';
export const PROFILES: readonly Profile[] = ['adult', 'senior', 'family', 'teen'];

export interface SimMember {
  id: number;
  name: string;
  email: string;
  /** Index into BRANCHES. */
  branch: number;
  joinDay: number;
  /** First simulated day: the join day, or the window's start for earlier members. */
  startDay: number;
  profile: Profile;
  shape: SeasonalShape;
  /** In (0, 1): the higher, the less often loans come back late. */
  reliability: number;
  /** Visits per month on `startDay`. */
  intensity: number;
  /** Monthly multiplier of intensity (< 1: declining engagement). */
  engagementTrend: number;
  logTrend: number;
  /** Mean number of extra items borrowed per visit (Poisson). */
  extraItemsPerVisit: number;
  /** Chance of renewing a loan each time it falls due. */
  renewalPropensity: number;
  dvdShare: number;
  largePrintShare: number;
  /** Weights over GENRES (summing to 1 up to rounding to 4 decimals: the stored taste is the one used). */
  taste: Float64Array;
  favouriteAuthors: string[];
  /** The day the member stopped borrowing, -1 while still borrowing. Set by the borrowing phase. */
  churnDay: number;
}

interface ProfileSpec {
  share: number;
  shape: SeasonalShape;
  reliability: readonly [number, number];
  /** Median visits per month. */
  medianIntensity: number;
  extraItemsPerVisit: number;
  renewal: readonly [number, number];
  dvdShare: number;
  largePrintShare: number;
  /** Mean taste, in GENRES order. */
  taste: Readonly<Record<Genre, number>>;
}

function taste(weights: readonly number[]): Record<Genre, number> {
  return Object.fromEntries(GENRES.map((g, i) => [g, weights[i]!])) as Record<Genre, number>;
}

// Genres in order: Fiction, Fantasy, Science Fiction, Mystery, Thriller, Romance, Horror, Young Adult,
// Children, Classics, Non-fiction, History, Biography, Poetry, Graphic Novels.
const PROFILE_SPECS: Readonly<Record<Profile, ProfileSpec>> = {
  adult: {
    share: 0.58,
    shape: 'adult',
    reliability: [6, 2],
    medianIntensity: 1.0,
    extraItemsPerVisit: 0.7,
    renewal: [2, 4],
    dvdShare: 0.02,
    largePrintShare: 0.01,
    taste: taste([0.17, 0.09, 0.05, 0.1, 0.11, 0.1, 0.04, 0.03, 0.01, 0.06, 0.09, 0.04, 0.05, 0.02, 0.04]),
  },
  senior: {
    share: 0.12,
    shape: 'adult',
    reliability: [10, 1.6],
    medianIntensity: 1.4,
    extraItemsPerVisit: 1.0,
    renewal: [2.5, 3.5],
    dvdShare: 0.01,
    largePrintShare: 0.5,
    taste: taste([0.2, 0.02, 0.02, 0.18, 0.12, 0.12, 0.01, 0.005, 0.005, 0.08, 0.06, 0.09, 0.08, 0.02, 0.005]),
  },
  family: {
    share: 0.2,
    shape: 'young',
    reliability: [5, 2],
    medianIntensity: 1.3,
    extraItemsPerVisit: 2.2,
    renewal: [2, 4],
    dvdShare: 0.04,
    largePrintShare: 0,
    taste: taste([0.06, 0.04, 0.01, 0.03, 0.04, 0.04, 0.01, 0.06, 0.62, 0.02, 0.03, 0.01, 0.01, 0.005, 0.015]),
  },
  teen: {
    share: 0.1,
    shape: 'young',
    reliability: [3, 1.8],
    medianIntensity: 0.8,
    extraItemsPerVisit: 0.5,
    renewal: [1.5, 5],
    dvdShare: 0.03,
    largePrintShare: 0,
    taste: taste([0.04, 0.15, 0.06, 0.03, 0.03, 0.04, 0.04, 0.44, 0.03, 0.04, 0.01, 0.01, 0.01, 0.02, 0.05]),
  },
};

/** Scales every member's intensity so the default library lends ~500,000 items in three years. */
const INTENSITY_SCALE = 0.7;
const INTENSITY_SPREAD = 0.75;
/** Dirichlet concentration of taste around the profile's mean: low, so tastes are distinct. */
const TASTE_CONCENTRATION = 5;
/** Share of members who joined before the simulated window (and how far back they go). */
const JOINED_BEFORE_WINDOW = 0.68;
const MAX_YEARS_BEFORE_WINDOW = 12;
/** A quarter of adults are film fans who borrow DVDs far more often. */
const FILM_FAN_SHARE = 0.25;
const FILM_FAN_DVD_SHARE = 0.12;
/** Engagement trends: a mixture of declining, steady and growing members. */
const DECLINING_SHARE = 0.3;
const GROWING_SHARE = 0.15;

export interface MemberWindow {
  startDay: number;
  endDay: number;
}

function pickIndex(rng: Random, weights: readonly number[]): number {
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return rng.pickCumulative(cumulative);
}

/** The weight of `day` among join days: new cards follow the borrowing season. */
function joinWeight(calendar: Calendar, day: number): number {
  return calendar.seasonalFactor('young', day) + calendar.seasonalFactor('adult', day);
}

function drawJoinDay(rng: Random, window: MemberWindow, calendar: Calendar): number {
  if (rng.bernoulli(JOINED_BEFORE_WINDOW)) {
    // Skewed towards recent years: long-standing members are fewer, as cards lapse.
    const yearsBefore = MAX_YEARS_BEFORE_WINDOW * Math.pow(rng.next(), 1.5);
    return window.startDay - 1 - Math.floor(yearsBefore * 365.25);
  }
  // New cards follow the borrowing season (the summer peak brings in families): rejection
  // sampling against the largest combined seasonal factor (~3.5, a Saturday in August).
  const span = window.endDay - window.startDay + 1;
  for (;;) {
    const day = window.startDay + rng.int(span);
    if (rng.next() * 3.6 < joinWeight(calendar, day)) return day;
  }
}

function drawTrend(rng: Random): number {
  const u = rng.next();
  if (u < DECLINING_SHARE) return 0.88 + 0.09 * rng.next();
  if (u < DECLINING_SHARE + GROWING_SHARE) return 1.01 + 0.03 * rng.next();
  return Math.exp(rng.normal(0, 0.01));
}

function drawTaste(rng: Random, mean: Readonly<Record<Genre, number>>): Float64Array {
  const draws = GENRES.map((g) => (mean[g] > 0 ? rng.gamma(TASTE_CONCENTRATION * mean[g]) : 0));
  const total = draws.reduce((a, b) => a + b, 0);
  const weights = new Float64Array(GENRES.length);
  if (total <= 0) {
    // Vanishingly rare with these parameters; fall back to the profile's mean taste.
    GENRES.forEach((g, i) => (weights[i] = Math.round(mean[g] * 1e4) / 1e4));
    return weights;
  }
  draws.forEach((d, i) => (weights[i] = Math.round((d / total) * 1e4) / 1e4));
  return weights;
}

function drawFavouriteAuthors(rng: Random, memberTaste: Float64Array, shelves: Shelves, catalogue: readonly CatalogueBook[]): string[] {
  const wanted = pickIndex(rng, [0.35, 0.3, 0.2, 0.15]);
  const favourites: string[] = [];
  for (let attempt = 0; favourites.length < wanted && attempt < 10; attempt++) {
    const shelf = shelves.byFormat.print[pickIndex(rng, Array.from(memberTaste))];
    if (!shelf) continue;
    const author = catalogue[pickFromShelf(shelf, rng)]!.authors[0];
    if (author !== undefined && !favourites.includes(author)) favourites.push(author);
  }
  return favourites;
}

interface MemberDrawing {
  window: MemberWindow;
  calendar: Calendar;
  shelves: Shelves;
  catalogue: readonly CatalogueBook[];
  names: Random;
  takenEmails: Set<string>;
}

/**
 * One member's traits from `rng`. `joining` fixes the join day and, for a cohort, the profile;
 * what it leaves out is drawn, as for the generated membership.
 */
function drawMember(id: number, rng: Random, drawing: MemberDrawing, joining?: { profile?: Profile; day: number }): SimMember {
  const { window, calendar, shelves, catalogue } = drawing;
  const profile = joining?.profile ?? PROFILES[pickIndex(rng, PROFILES.map((p) => PROFILE_SPECS[p].share))]!;
  const spec = PROFILE_SPECS[profile];
  const branch = pickIndex(rng, BRANCHES.map((b) => b.size));
  const joinDay = joining?.day ?? drawJoinDay(rng, window, calendar);
  const reliability = rng.beta(spec.reliability[0], spec.reliability[1]);
  const intensity = spec.medianIntensity * INTENSITY_SCALE * Math.exp(rng.normal(0, INTENSITY_SPREAD));
  const engagementTrend = drawTrend(rng);
  const extraItemsPerVisit = spec.extraItemsPerVisit * Math.exp(rng.normal(0, 0.3));
  const renewalPropensity = rng.beta(spec.renewal[0], spec.renewal[1]);
  const filmFan = profile === 'adult' && rng.bernoulli(FILM_FAN_SHARE);
  const dvdShare = filmFan ? FILM_FAN_DVD_SHARE : spec.dvdShare;
  const largePrintShare = Math.min(0.9, spec.largePrintShare * (0.6 + 0.8 * rng.next()));
  const memberTaste = drawTaste(rng, spec.taste);
  const favouriteAuthors = drawFavouriteAuthors(rng, memberTaste, shelves, catalogue);
  const { name, email } = drawIdentity(id, drawing.names, drawing.takenEmails);
  return {
    id,
    name,
    email,
    branch,
    joinDay,
    startDay: Math.max(joinDay, window.startDay),
    profile,
    shape: spec.shape,
    reliability,
    intensity,
    engagementTrend,
    logTrend: Math.log(engagementTrend),
    extraItemsPerVisit,
    renewalPropensity,
    dvdShare,
    largePrintShare,
    taste: memberTaste,
    favouriteAuthors,
    churnDay: -1,
  };
}

export function drawMembers(
  count: number,
  seed: number,
  window: MemberWindow,
  calendar: Calendar,
  shelves: Shelves,
  catalogue: readonly CatalogueBook[],
): SimMember[] {
  const draw = memberDrawer(seed, window, calendar, shelves, catalogue);
  const members: SimMember[] = [];
  for (let id = 1; id <= count; id++) members.push(draw(id));
  return members;
}

/**
 * Draws the generated membership one member at a time, ids 1, 2, 3, ... in that order (the
 * names stream and the taken e-mail addresses run through all members, so ids must not be
 * skipped or repeated): what `drawMembers` returns, without holding every member at once. A
 * library of a million members is drawn a chunk at a time this way, each chunk's borrowing
 * simulated and written before the next is drawn.
 */
export function memberDrawer(
  seed: number,
  window: MemberWindow,
  calendar: Calendar,
  shelves: Shelves,
  catalogue: readonly CatalogueBook[],
): (id: number) => SimMember {
  const drawing: MemberDrawing = { window, calendar, shelves, catalogue, names: streamRandom(seed, 'names'), takenEmails: new Set<string>() };
  return (id) => drawMember(id, streamRandom(seed, 'members', id), drawing);
}

/** `count` members of one profile who join on `day`, with ids from `firstId` on. */
export function drawCohort(
  count: number, profile: Profile, day: number, firstId: number, seed: number, calendar: Calendar, shelves: Shelves, catalogue: readonly CatalogueBook[],
): SimMember[] {
  const drawing: MemberDrawing = {
    window: { startDay: day, endDay: day }, calendar, shelves, catalogue, names: streamRandom(seed, 'cohortNames', firstId), takenEmails: new Set<string>(),
  };
  return Array.from({ length: count }, (_, k) => drawMember(firstId + k, streamRandom(seed, 'cohort', firstId + k), drawing, { profile, day }));
}

/** The generated membership whose rate of new cards a living library keeps up. */
export interface Membership {
  members: number;
  window: MemberWindow;
}

/**
 * The members who register on `day` (ids from `firstId` on) in a library that keeps gaining
 * members as its generated window did: `drawJoinDay` puts 1 − JOINED_BEFORE_WINDOW of the
 * generated members inside the window, weighted by season, so the day's count is Poisson with
 * that share's daily mean times the day's seasonal weight over the window's mean weight.
 * Profiles are drawn by their shares. Deterministic in the seed and the day.
 */
export function drawRegistrations(
  day: number, firstId: number, seed: number, membership: Membership, calendar: Calendar, shelves: Shelves, catalogue: readonly CatalogueBook[],
): SimMember[] {
  const { startDay, endDay } = membership.window;
  let weights = 0;
  for (let d = startDay; d <= endDay; d++) weights += joinWeight(calendar, d);
  const mean = (membership.members * (1 - JOINED_BEFORE_WINDOW) * joinWeight(calendar, day)) / weights;
  const count = streamRandom(seed, 'registrations', day).poisson(mean);
  const drawing: MemberDrawing = {
    window: { startDay: day, endDay: day }, calendar, shelves, catalogue, names: streamRandom(seed, 'registrationNames', day), takenEmails: new Set<string>(),
  };
  return Array.from({ length: count }, (_, k) => drawMember(firstId + k, streamRandom(seed, 'registered', firstId + k), drawing, { day }));
}
