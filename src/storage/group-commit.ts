/**
 * Group commit: work that arrives while a batch is being written joins the next batch, so many
 * items share one transaction (one BEGIN, one append of their events, one COMMIT) instead of
 * paying a transaction each. An item that arrives when nothing is in flight runs at once, alone:
 * batching adds no wait, it only happens under load.
 *
 * A batch is all or nothing. When it fails, for whatever reason (one item's error, a key another
 * transaction recorded meanwhile, a deadlock), each of its items is run again on its own with
 * `runOne`, so an item fails only for its own reasons and its caller gets its own error.
 */
export interface GroupCommitOptions<I, R> {
  /** Items per batch at most: bounds how long a batch holds its locks. */
  maxBatch: number;
  /** Runs the items in one transaction; resolves with one result per item, in their order. */
  runBatch: (items: I[]) => Promise<R[]>;
  /** Runs one item alone: after a failed batch, and for a batch of one. */
  runOne: (item: I) => Promise<R>;
  /** Told why a batch failed before its items are run alone. */
  onBatchFailed?: (err: unknown, size: number) => void;
}

interface Waiting<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<I, R> {
  private queue: Array<Waiting<I, R>> = [];
  // One batch at a time: the next one forms while it runs, and two batches of this instance can
  // never wait on each other's locks.
  private running = false;
  /** Batches run so far, the items in them, and batches that failed and were run item by item. */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 };

  constructor(private readonly options: GroupCommitOptions<I, R>) {}

  /** Items waiting for the batch in flight to finish. */
  get queued(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.options.maxBatch);
    void this.run(batch).finally(() => {
      this.running = false;
      this.next();
    });
  }

  private async run(batch: Array<Waiting<I, R>>): Promise<void> {
    this.stats.batches += 1;
    this.stats.items += batch.length;
    if (batch.length === 1) {
      await this.options.runOne(batch[0].item).then(batch[0].resolve, batch[0].reject);
      return;
    }
    let results: R[];
    try {
      results = await this.options.runBatch(batch.map((w) => w.item));
    } catch (err) {
      // Which item failed is not known: each is tried alone, together, outside the queue.
      this.stats.fallbacks += 1;
      this.options.onBatchFailed?.(err, batch.length);
      await Promise.all(batch.map((w) => this.options.runOne(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]));
  }
}
