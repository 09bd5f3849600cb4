/**
 * Runs `task` over `items` with at most `limit` running at once. Waits for every started task
 * to settle before rejecting with the first error, so callers can clean up after all of them.
 */
export async function forEachConcurrent<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** Runs tasks given the same key one after another (in the order given), tasks of other keys alongside. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }
}

/**
 * `fn` with at most `limit` calls in flight; the others wait their turn, in call order. For work
 * a host sends to a small thread pool (gzip on libuv's four threads), so that a burst of it does
 * not queue ahead of everything else there (file reads).
 */
export function limited<A extends unknown[], R>(fn: (...args: A) => Promise<R>, limit: number): (...args: A) => Promise<R> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (...args) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn(...args);
    } finally {
      // The slot passes straight to the next waiter (active unchanged), or is freed.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
