import type { Snapshot } from './snapshot.js';

/** The public shape of a snapshot, as the API and the CLI print it. */
export function snapshotInfo(s: Snapshot) {
  return { id: s.id, seq: s.seq, createdAt: s.createdAt, actor: s.actor };
}
