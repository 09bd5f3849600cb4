// What the benchmarks' filesystem is, where that changes the figures.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The ext4 device holding `dir` when that filesystem has no journal, else undefined. Without a
 * journal, ext4 (fs/ext4/ialloc.c, recently_deleted) skips every inode freed in the last minute
 * or more when it allocates one, reading each one's inode-table block: creating thousands of
 * files after thousands were deleted then costs milliseconds per file in the kernel, and the
 * tools that create many files (Packyard, reprepro) pay it where those that link (aptly) or
 * write a few (createrepo_c) do not. Debian installs ext4 with a journal.
 */
export function journallessExt4(dir) {
  let mounts;
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const path = resolve(dir);
  let best;
  for (const line of mounts.split('\n')) {
    // mountinfo: id parent major:minor root mountpoint options ... - fstype source superoptions
    const [before, after] = line.split(' - ');
    if (!after) continue;
    const mountPoint = before.split(' ')[4].replace(/\\040/g, ' ');
    const [fstype, source] = after.split(' ');
    const inside = path === mountPoint || path.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fstype, source };
  }
  if (best?.fstype !== 'ext4') return undefined;
  const device = best.source.replace(/^\/dev\//, '');
  try {
    return readFileSync(`/sys/fs/ext4/${device}/journal_task`, 'utf8').trim() === '<none>' ? best.source : undefined;
  } catch {
    return undefined;
  }
}
