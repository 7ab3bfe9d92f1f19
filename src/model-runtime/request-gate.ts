/**
 * Requests first. A model subgraph's background work (rolling its memos to a new date, warming
 * them, the scans of the watchlists and the segment overview) shares the event loop with its
 * requests, a paced slice at a time (see SlicePacer). A request needs many turns of the loop
 * (parsing, the DataLoader's batch, the feature reads, the model run, the answer), and it used to
 * wait for a slice of background work at every turn. Through the gate, background work waits
 * before each slice until no request is in flight, or at most `maxWaitMs`, so it still moves on
 * under steady traffic.
 *
 * Contract: `begin()` marks a request started and returns the function that marks it ended (a
 * second call does nothing); `idle()` resolves when no request is in flight: at once if none is,
 * else when the last one ends or `maxWaitMs` has passed, whichever comes first.
 */
export class RequestGate {
  private inFlight = 0;
  private readonly waiting = new Set<() => void>();

  constructor(private readonly maxWaitMs = 100) {}

  /** Requests started and not yet ended. */
  get active(): number {
    return this.inFlight;
  }

  begin(): () => void {
    this.inFlight += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const release of [...this.waiting]) release();
    };
  }

  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const release = (): void => {
        clearTimeout(timer);
        this.waiting.delete(release);
        resolve();
      };
      const timer = setTimeout(release, this.maxWaitMs);
      this.waiting.add(release);
    });
  }
}
