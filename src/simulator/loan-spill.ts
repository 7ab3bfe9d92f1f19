/**
 * Loans spilled to disk while a large library is generated, and read back in checkout order a
 * chunk at a time.
 *
 * Why: a loan's id is its place in checkout order over the whole library, its late outcome is
 * drawn from one 'returns' stream in that order, and the late intercepts are calibrated over
 * every loan; so until every member has been simulated no loan can be settled or written.
 * Holding them all in typed arrays (`simulateBorrowing`) costs about 90 bytes a loan at its
 * peak: 850 MB for the 5 million loans of 100,000 members, 8 GB or more for a million members.
 * Here each loan is appended, as one 24-byte record, to the file of its range of checkout days
 * (`BUCKET_DAYS` days a file); a file holds its loans in simulation order (member, then day),
 * so sorting one file stably by day gives exactly the slice of the global checkout order the
 * in-memory counting sort gives. Memory: one write buffer per file, and one file's loans
 * (twice, while it is sorted) when read back.
 *
 * The files live in a folder the caller names (beside the SQLite file being built, so on a
 * disk with room for the library) and are removed by `close`.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LoanSink } from './borrowing';
import type { MemberWindow } from './members';

/** Checkout days per file: about 70 files for the three-year window. */
const BUCKET_DAYS = 16;
/** Bytes of one record: member, book, checkout day (int32), branch, renewals (uint8), 2 spare, late logit (float64). */
const RECORD_BYTES = 24;
/** Records buffered per file before they are written. */
const BUFFERED_RECORDS = 8192;

/** One file's loans in checkout order; `first` is the 0-based place of the first in the whole library. */
export interface LoanChunk {
  first: number;
  length: number;
  member: Int32Array;
  book: Int32Array;
  checkoutDay: Int32Array;
  branch: Uint8Array;
  renewals: Uint8Array;
  lateLogit: Float64Array;
}

interface Bucket {
  file: string;
  fd: number;
  buffer: ArrayBuffer;
  /** Views of `buffer`, made once: a view per record would dominate the push. */
  ints: Int32Array;
  bytes: Uint8Array;
  floats: Float64Array;
  buffered: number;
  count: number;
  sorted: boolean;
}

export class LoanSpill implements LoanSink {
  private readonly buckets: Bucket[] = [];
  length = 0;

  constructor(
    readonly folder: string,
    private readonly window: MemberWindow,
  ) {
    mkdirSync(folder, { recursive: true });
    const days = window.endDay - window.startDay + 1;
    for (let b = 0; b * BUCKET_DAYS < days; b++) {
      const file = path.join(folder, `loans-${String(b).padStart(4, '0')}.bin`);
      const buffer = new ArrayBuffer(BUFFERED_RECORDS * RECORD_BYTES);
      this.buckets.push({
        file, fd: openSync(file, 'w+'), buffer, ints: new Int32Array(buffer), bytes: new Uint8Array(buffer), floats: new Float64Array(buffer),
        buffered: 0, count: 0, sorted: false,
      });
    }
  }

  push(member: number, book: number, branch: number, checkoutDay: number, renewals: number, lateLogit: number): void {
    const bucket = this.buckets[Math.floor((checkoutDay - this.window.startDay) / BUCKET_DAYS)];
    if (!bucket) throw new RangeError(`checkout day ${checkoutDay} is outside the simulated window`);
    const r = bucket.buffered;
    bucket.ints[r * 6] = member;
    bucket.ints[r * 6 + 1] = book;
    bucket.ints[r * 6 + 2] = checkoutDay;
    bucket.bytes[r * RECORD_BYTES + 12] = branch;
    bucket.bytes[r * RECORD_BYTES + 13] = renewals;
    bucket.floats[r * 3 + 2] = lateLogit;
    bucket.buffered++;
    bucket.count++;
    this.length++;
    if (bucket.buffered === BUFFERED_RECORDS) this.writeBuffered(bucket);
  }

  /** Writes what is still buffered; call once every loan has been pushed. */
  finish(): void {
    for (const bucket of this.buckets) this.writeBuffered(bucket);
  }

  /**
   * Every loan in checkout order, one file's worth at a time. The first pass sorts each file
   * (stably, by day) and writes it back, so later passes only read.
   */
  *chronological(): Generator<LoanChunk> {
    let first = 0;
    for (const bucket of this.buckets) {
      if (bucket.count === 0) continue;
      let records = new ArrayBuffer(bucket.count * RECORD_BYTES);
      readFully(bucket.fd, new Uint8Array(records));
      if (!bucket.sorted) {
        records = this.sortByDay(records, bucket.count);
        writeFully(bucket.fd, new Uint8Array(records), 0);
        bucket.sorted = true;
      }
      yield columns(records, bucket.count, first);
      first += bucket.count;
    }
  }

  close(): void {
    for (const bucket of this.buckets) closeSync(bucket.fd);
    this.buckets.length = 0;
    rmSync(this.folder, { recursive: true, force: true });
  }

  private writeBuffered(bucket: Bucket): void {
    if (bucket.buffered === 0) return;
    const bytes = bucket.buffered * RECORD_BYTES;
    writeFully(bucket.fd, new Uint8Array(bucket.buffer, 0, bytes), (bucket.count - bucket.buffered) * RECORD_BYTES);
    bucket.buffered = 0;
  }

  /** Stable counting sort of one file's records by checkout day. */
  private sortByDay(records: ArrayBuffer, count: number): ArrayBuffer {
    const ints = new Int32Array(records);
    let low = Infinity;
    let high = -Infinity;
    for (let i = 0; i < count; i++) {
      const day = ints[i * 6 + 2]!;
      if (day < low) low = day;
      if (day > high) high = day;
    }
    const starts = new Int32Array(high - low + 2);
    for (let i = 0; i < count; i++) starts[ints[i * 6 + 2]! - low + 1]!++;
    for (let d = 1; d < starts.length; d++) starts[d]! += starts[d - 1]!;
    const sorted = new ArrayBuffer(records.byteLength);
    const from = new Uint8Array(records);
    const to = new Uint8Array(sorted);
    for (let i = 0; i < count; i++) {
      const place = starts[ints[i * 6 + 2]! - low]!++;
      to.set(from.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES), place * RECORD_BYTES);
    }
    return sorted;
  }
}

function columns(records: ArrayBuffer, count: number, first: number): LoanChunk {
  const ints = new Int32Array(records);
  const bytes = new Uint8Array(records);
  const floats = new Float64Array(records);
  const chunk: LoanChunk = {
    first,
    length: count,
    member: new Int32Array(count),
    book: new Int32Array(count),
    checkoutDay: new Int32Array(count),
    branch: new Uint8Array(count),
    renewals: new Uint8Array(count),
    lateLogit: new Float64Array(count),
  };
  for (let i = 0; i < count; i++) {
    chunk.member[i] = ints[i * 6]!;
    chunk.book[i] = ints[i * 6 + 1]!;
    chunk.checkoutDay[i] = ints[i * 6 + 2]!;
    chunk.branch[i] = bytes[i * RECORD_BYTES + 12]!;
    chunk.renewals[i] = bytes[i * RECORD_BYTES + 13]!;
    chunk.lateLogit[i] = floats[i * 3 + 2]!;
  }
  return chunk;
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function readFully(fd: number, into: Uint8Array): void {
  for (let done = 0; done < into.length; ) {
    const read = readSync(fd, into, done, into.length - done, done);
    if (read === 0) throw new Error(`spilled loans: file ended after ${done} of ${into.length} bytes`);
    done += read;
  }
}
