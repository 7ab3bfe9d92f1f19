/**
 * What the gateway works out from a GraphQL document's text alone, remembered per document:
 * clients send the same few documents again and again, and parsing one again for every
 * request is most of what these checks cost. Entries are keyed by the document's SHA-256, so
 * none holds the document's text; the oldest is forgotten first once `maxEntries` are kept.
 */
import { createHash } from 'node:crypto';

export class DocumentMemo<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`entries kept must be a positive integer, got ${maxEntries}`);
  }

  /** What `compute` answered for this document before, or its answer now. */
  get(source: string, compute: () => T): T {
    const hash = createHash('sha256').update(source).digest('base64');
    if (this.entries.has(hash)) return this.entries.get(hash) as T;
    const value = compute();
    this.entries.set(hash, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return value;
  }
}
