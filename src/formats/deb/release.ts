import type { DistributionSettings, FileEntry } from '../../core/snapshot.js';

export interface ReleaseInput {
  repo: string;
  distribution: string;
  settings: DistributionSettings;
  architectures: string[];
  components: string[];
  /** Index files by path relative to `dists/<distribution>/`. */
  files: Record<string, FileEntry>;
  date: Date;
}

function resolved(repo: string, distribution: string, s: DistributionSettings) {
  return {
    origin: s.origin ?? repo,
    label: s.label ?? repo,
    suite: s.suite ?? distribution,
    codename: s.codename ?? distribution,
    description: s.description,
  };
}

/** The top-level `Release`: what apt checks every index against. */
export function renderRelease(input: ReleaseInput): string {
  const s = resolved(input.repo, input.distribution, input.settings);
  const lines = [`Origin: ${s.origin}`, `Label: ${s.label}`, `Suite: ${s.suite}`, `Codename: ${s.codename}`];
  // apt parses RFC 1123 dates in GMT; toUTCString() writes exactly that.
  lines.push(`Date: ${input.date.toUTCString()}`);
  if (input.settings.validFor) lines.push(`Valid-Until: ${new Date(input.date.getTime() + input.settings.validFor * 1000).toUTCString()}`);
  lines.push(`Architectures: ${input.architectures.join(' ')}`, `Components: ${input.components.join(' ')}`);
  if (s.description) lines.push(`Description: ${s.description}`);
  lines.push('Acquire-By-Hash: yes');
  const paths = Object.keys(input.files).sort();
  const sizeWidth = Math.max(...paths.map((p) => String(input.files[p]!.size).length), 1);
  for (const [field, digest] of [['MD5Sum', 'md5'], ['SHA1', 'sha1'], ['SHA256', 'sha256'], ['SHA512', 'sha512']] as const) {
    lines.push(`${field}:`);
    for (const path of paths) {
      const f = input.files[path]!;
      lines.push(` ${f[digest]} ${String(f.size).padStart(sizeWidth)} ${path}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The small per-directory `Release` beside each `Packages`. */
export function renderComponentRelease(repo: string, distribution: string, settings: DistributionSettings, component: string, architecture: string): string {
  const s = resolved(repo, distribution, settings);
  return `Archive: ${s.suite}\nOrigin: ${s.origin}\nLabel: ${s.label}\nComponent: ${component}\nArchitecture: ${architecture}\n`;
}
