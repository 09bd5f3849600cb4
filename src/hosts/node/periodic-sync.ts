// `packyard serve --sync-interval`: every repository that has a source is synced in turn, one
// round every interval. A round starts only once the last has ended (a slow GitHub never makes
// rounds pile up), and a failure is logged, never thrown: the next round tries again.
import type { Sources } from '../../sources/index.js';
import { syncLogFields } from '../../sources/sync-log.js';
import { PackyardError } from '../../util/errors.js';
import { log as defaultLog } from './log.js';

export interface PeriodicSync {
  /** No round starts after this; one running stops before its next repository. */
  stop(): void;
  /** Resolves when the round running (if any) ends; for tests and orderly shutdowns. */
  idle(): Promise<void>;
}

export function startPeriodicSync(sources: Sources, intervalMs: number, log: (entry: Record<string, unknown>) => void = defaultLog): PeriodicSync {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let round: Promise<void> = Promise.resolve();

  const runRound = async () => {
    let repos: string[];
    try {
      repos = await sources.withSources();
    } catch (err) {
      return log({ level: 'error', msg: 'sync round failed', error: (err as Error).message });
    }
    for (const repo of repos) {
      if (stopped) return;
      try {
        log({ level: 'info', msg: 'sync', repo, ...syncLogFields(await sources.sync(repo)) });
      } catch (err) {
        const status = err instanceof PackyardError ? err.status : 500;
        log({ level: status === 503 ? 'warn' : 'error', msg: 'sync failed', repo, status, code: err instanceof PackyardError ? err.code : 'internal', error: (err as Error).message });
      }
    }
  };
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = runRound().finally(() => schedule(intervalMs));
    }, delay);
    // Waiting for the next round never keeps the process alive.
    timer.unref();
  };
  // The first round right away: releases made while the server was down appear without waiting.
  schedule(0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    idle: () => round,
  };
}
