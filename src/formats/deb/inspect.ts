import { PackyardError, badPackage } from '../../util/errors.js';
import { ArReader } from './ar.js';
import { type ControlParagraph, type PackageIdentity, packageIdentity, parseControl } from './control.js';
import { readControlTar } from './control-tar.js';
import { checkFieldValues } from './field-values.js';
import { checkRelations } from './relations.js';
import { type Compression, decompress } from '../../util/codecs/decompress.js';
import type { Gunzip } from '../../util/codecs/compress.js';

/** What an uploaded `.deb` says about itself, validated. */
export interface DebInfo extends PackageIdentity {
  control: ControlParagraph;
}

const MiB = 1024 * 1024;
const MAX_CONTROL_MEMBER = 4 * MiB;
const MAX_CONTROL_TAR = 16 * MiB;
const MAX_DEBIAN_BINARY = 64;

const CONTROL_COMPRESSION = new Map<string, Compression>([['', 'none'], ['.gz', 'gz'], ['.xz', 'xz'], ['.zst', 'zst']]);
// dpkg can unpack these data members; we never read the data member, only check its name.
const DATA_SUFFIXES = new Set(['', '.gz', '.xz', '.zst', '.bz2', '.lzma']);

/**
 * Reads a `.deb` as it streams past: `push` every chunk of the upload, then `finish`. Only the
 * `debian-binary` and `control.tar*` members are buffered; the data member is only counted.
 * Members must come in dpkg's order: `debian-binary`, the control member, the data member, with
 * `_`-prefixed members (which dpkg skips) allowed between them.
 */
export class DebInspector {
  private readonly ar = new ArReader({ capture: (name, size) => this.onMember(name, size) });
  /** The member expected next; `done` once the data member has started. */
  private expecting: 'debian-binary' | 'control' | 'data' | 'done' = 'debian-binary';
  private controlName = '';
  private controlCompression: Compression = 'none';

  constructor(private readonly gunzip?: Gunzip) {}

  push(chunk: Uint8Array): void {
    this.ar.push(chunk);
  }

  /** Whether the control member is still to come (a reader of ranges reads on). */
  get needsMore(): boolean {
    return this.expecting !== 'done';
  }

  finish(): Promise<DebInfo> {
    return this.inspect(this.ar.end());
  }

  /** Ends after the data member's header, in a file known to be `total` bytes long (read by ranges). */
  finishAt(total: number): Promise<DebInfo> {
    return this.inspect(this.ar.endAt(total));
  }

  private async inspect(members: ReturnType<ArReader['end']>): Promise<DebInfo> {
    if (this.expecting === 'debian-binary') {
      throw badPackage('missing-debian-binary', 'not a .deb: the ar archive has no members');
    }
    const version = new TextDecoder('latin1').decode(members[0]!.data);
    if (!/^2\.[0-9]+\n/.test(version)) {
      throw badPackage('bad-debian-binary', `debian-binary says ${JSON.stringify(version)}, expected format "2.0\\n"`);
    }
    if (this.expecting === 'control') throw badPackage('missing-control', 'the .deb has no control.tar member');
    if (this.expecting === 'data') throw badPackage('missing-data-member', 'the .deb has no data.tar member');

    const member = members.find((m) => m.name === this.controlName)!;
    const files = await this.inControlMember(async () =>
      readControlTar(await decompress(member.data!, this.controlCompression, MAX_CONTROL_TAR, this.gunzip)),
    );
    const file = files.get('control');
    if (!file) throw badPackage('missing-control', `${this.controlName} has no ./control file`);
    const control = parseControl(file);
    const identity = packageIdentity(control);
    checkRelations(control);
    checkFieldValues(control, identity.architecture);
    return { control, ...identity };
  }

  /** Decides, from the member's header alone, whether to buffer it; rejects what dpkg would. */
  private onMember(name: string, size: number): boolean {
    switch (this.expecting) {
      case 'debian-binary':
        if (name !== 'debian-binary') {
          throw badPackage('missing-debian-binary', `not a .deb: first member is "${name}", not "debian-binary"`);
        }
        if (size > MAX_DEBIAN_BINARY) throw badPackage('bad-debian-binary', `debian-binary is ${size} bytes long`);
        this.expecting = 'control';
        return true;
      case 'control': {
        if (name.startsWith('_')) return false;
        if (!name.startsWith('control.tar')) {
          throw badPackage('missing-control', `member "${name}" comes before the control.tar member`);
        }
        const compression = CONTROL_COMPRESSION.get(name.slice('control.tar'.length));
        if (compression === undefined) {
          throw badPackage('unsupported-compression', `control member "${name}": unsupported compression`);
        }
        if (size > MAX_CONTROL_MEMBER) {
          throw badPackage('control-too-large', `control member "${name}" is ${size} bytes, over the limit of ${MAX_CONTROL_MEMBER}`);
        }
        this.controlName = name;
        this.controlCompression = compression;
        this.expecting = 'data';
        return true;
      }
      case 'data':
        if (name.startsWith('_')) return false;
        if (name.startsWith('control.tar')) throw badPackage('duplicate-member', `second control member "${name}"`);
        if (!name.startsWith('data.tar')) throw badPackage('unexpected-member', `unexpected member "${name}" before data.tar`);
        if (!DATA_SUFFIXES.has(name.slice('data.tar'.length))) {
          throw badPackage('unsupported-compression', `data member "${name}": unsupported compression`);
        }
        this.expecting = 'done';
        return false;
      case 'done':
        return false; // dpkg stops reading after the data member
    }
  }

  /** Names the control member in errors from decompressing or untarring it. */
  private async inControlMember<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof PackyardError)) throw err;
      if (err.code === 'decompressed-too-large') {
        throw badPackage('control-too-large', `control member "${this.controlName}" ${err.message}`);
      }
      throw badPackage(err.code, `control member "${this.controlName}": ${err.message}`);
    }
  }
}
