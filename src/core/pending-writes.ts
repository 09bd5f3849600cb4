/**
 * Writes a publish starts and awaits together before its snapshot is committed, so that storing
 * one object overlaps rendering and storing the next. A failed one fails the publish when settled,
 * and is never an unhandled rejection before that.
 */
export class PendingWrites {
  private readonly writes: Promise<unknown>[] = [];

  add(write: Promise<unknown>): void {
    write.catch(() => undefined);
    this.writes.push(write);
  }

  async settle(): Promise<void> {
    await Promise.all(this.writes);
  }
}
