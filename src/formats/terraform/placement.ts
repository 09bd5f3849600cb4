import semver from 'semver';
import { PackyardError } from '../../util/errors.js';
import type { Coordinates } from '../../core/format.js';

/** Where an upload goes in a Terraform repository, by kind. */
export type TerraformPlacement =
  | { kind: 'module'; name: string; system: string; version: string }
  | { kind: 'provider'; type: string; version: string; os: string; arch: string; protocols: string[] }
  | { kind: 'mirror'; hostname: string; namespace: string; type: string; version: string; os: string; arch: string };

// Terraform's own rules for registry names, and platform names as Go spells them.
const NAME = /^[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?$/;
const TYPE = /^[0-9a-z](?:[0-9a-z-]{0,62}[0-9a-z])?$/;
const PLATFORM = /^[0-9a-z]{1,32}$/;
const HOSTNAME = /^(?=.{1,253}$)[0-9a-z](?:[0-9a-z-]{0,61}[0-9a-z])?(?:\.[0-9a-z](?:[0-9a-z-]{0,61}[0-9a-z])?)*(?::\d{1,5})?$/;
const PROTOCOL = /^\d{1,2}\.\d{1,2}$/;

function field(coordinates: Coordinates, name: string, rule: RegExp, what: string): string {
  const value = coordinates[name];
  if (!value) throw new PackyardError(400, 'missing-parameter', `${name} is required`);
  if (!rule.test(value)) throw new PackyardError(400, 'invalid-parameter', `${name} "${value}" is not ${what}`);
  return value;
}

/** A version as Terraform reads one: semver, without a leading `v` (a 422: the upload names it wrongly). */
export function checkVersion(version: string | undefined): string {
  if (!version || semver.valid(version) !== version) throw new PackyardError(422, 'invalid-version', `version "${version ?? ''}" is not a semantic version such as 1.2.3 or 1.3.0-beta.1`);
  return version;
}

export function terraformPlacement(coordinates: Coordinates): TerraformPlacement {
  const kind = coordinates.kind;
  if (kind === 'module') {
    return { kind, name: field(coordinates, 'name', NAME, 'a module name'), system: field(coordinates, 'system', NAME, 'a provider system name (aws, google, …)'), version: checkVersion(coordinates.version) };
  }
  const platform = () => ({ os: field(coordinates, 'os', PLATFORM, 'an operating system (linux, darwin, windows)'), arch: field(coordinates, 'arch', PLATFORM, 'an architecture (amd64, arm64)') });
  if (kind === 'provider') {
    const protocols = (coordinates.protocols ?? '5.0').split(',').map((p) => p.trim());
    if (!protocols.every((p) => PROTOCOL.test(p))) throw new PackyardError(400, 'invalid-parameter', `protocols "${coordinates.protocols}" must be versions such as 5.0 or 6.0, comma-separated`);
    return { kind, type: field(coordinates, 'type', TYPE, 'a provider type'), version: checkVersion(coordinates.version), ...platform(), protocols };
  }
  if (kind === 'mirror') {
    return {
      kind,
      hostname: field(coordinates, 'hostname', HOSTNAME, 'a registry hostname'),
      namespace: field(coordinates, 'namespace', NAME, 'a namespace'),
      type: field(coordinates, 'type', TYPE, 'a provider type'),
      version: checkVersion(coordinates.version),
      ...platform(),
    };
  }
  throw new PackyardError(400, 'invalid-parameter', 'a Terraform repository takes modules (POST …/modules/<name>/<system>/<version>), providers (…/providers/<type>/<version>/<os>/<arch>) and mirrored providers (…/mirror/<hostname>/<namespace>/<type>/<version>/<os>/<arch>)');
}
