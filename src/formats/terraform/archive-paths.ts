import { badPackage } from '../../util/errors.js';

/**
 * The components an archive member unpacks to, refusing a name that could land outside the
 * directory it is unpacked into, on any system: absolute (`/x`, `C:x`), `..`, a backslash
 * (a separator on Windows, so `..\x` would climb there), a NUL.
 */
export function safePath(name: string): string[] {
  const quoted = JSON.stringify(name);
  if (name.includes('\\')) throw badPackage('unsafe-path', `archive member ${quoted} has a backslash in its name`);
  if (name.includes('\0')) throw badPackage('unsafe-path', `archive member ${quoted} has a NUL in its name`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw badPackage('unsafe-path', `archive member ${quoted} has an absolute path`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw badPackage('unsafe-path', `archive member ${quoted} has a ".." in its path`);
  return parts;
}

/** Links declared by an archive, checked once every member is known (a link may come after what uses it). */
export class ArchiveLinks {
  private readonly symlinks = new Map<string, string>();
  private readonly hardlinks: { path: string; target: string }[] = [];
  private readonly paths: string[] = [];
  /** Lookups left: links whose targets name other links many times over could make resolving exponential. */
  private budget = 100_000;

  /** Any member's unpacked path (after safePath). */
  member(path: string): void {
    this.paths.push(path);
  }

  symlink(path: string, target: string): void {
    this.symlinks.set(path, target);
  }

  /** A tar hard link: its target names another member, from the archive's root. */
  hardlink(path: string, target: string): void {
    this.hardlinks.push({ path, target });
  }

  /**
   * Refuses a link whose target resolves outside the archive's root (following the archive's own
   * symbolic links, as the file system will once unpacked), and a member placed through a
   * symbolic link (it would be written wherever that link points).
   */
  check(): void {
    for (const path of this.paths) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (this.symlinks.has(dir)) throw badPackage('unsafe-link', `archive member ${JSON.stringify(path)} lies under the symbolic link ${JSON.stringify(dir)}`);
      }
    }
    for (const [path, target] of this.symlinks) {
      if (!this.resolve(path.split('/').slice(0, -1), target)) {
        throw badPackage('unsafe-link', `symbolic link ${JSON.stringify(path)} points to ${JSON.stringify(target)}, outside the archive`);
      }
    }
    for (const { path, target } of this.hardlinks) {
      if (!this.resolve([], target)) throw badPackage('unsafe-link', `hard link ${JSON.stringify(path)} points to ${JSON.stringify(target)}, outside the archive`);
    }
  }

  /** Where `target`, read from directory `from`, lands: undefined when it leaves the root. */
  private resolve(from: string[], target: string, depth = 0): string[] | undefined {
    // Linux gives up after 40 links in one lookup; a loop is refused like an escape.
    if (depth > 40 || --this.budget < 0) return undefined;
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.includes('\\') || target === '') return undefined;
    let at = [...from];
    for (const part of target.split('/')) {
      if (--this.budget < 0) return undefined;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (at.length === 0) return undefined;
        at.pop();
        continue;
      }
      at.push(part);
      const link = this.symlinks.get(at.join('/'));
      if (link !== undefined) {
        const resolved = this.resolve(at.slice(0, -1), link, depth + 1);
        if (!resolved) return undefined;
        at = resolved;
      }
    }
    return at;
  }
}
