import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import { parseInput } from '../util/input.js';
import { constantTimeEqual, sha256Hex, toHex } from '../util/hash.js';
import { readJson, type Storage } from '../storage/types.js';
import { REPO_NAME } from '../core/layout.js';
import { authLayout } from './storage-keys.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a token may do: per repository, and optionally everything (server-wide admin). */
export interface Grants {
  repos: Record<string, Scope[]>;
  admin: boolean;
}

export interface TokenInfo extends Grants {
  id: string;
  name: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
}

interface StoredToken extends TokenInfo {
  sha256: string;
}

const DURATION = /^(\d{1,6})([smhdw])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export const createTokenSchema = z
  .strictObject({
    name: z.string().min(1).max(100).regex(/^[^\n\r]*$/, 'must be a single line'),
    repos: z.record(z.string().regex(REPO_NAME, 'is not a repository name'), z.array(z.enum(SCOPES)).min(1)).default({}),
    admin: z.boolean().default(false),
    expiresIn: z.string().regex(DURATION, 'must be a number and a unit: s, m, h, d or w (e.g. "30d")').optional(),
  })
  .refine((t) => t.admin || Object.keys(t.repos).length > 0, 'a token needs at least one repository scope, or "admin": true');

// `pyt_<id>_<secret>`: the id finds the record without a scan; only the secret's hash is kept.
const TOKEN = /^pyt_([0-9a-f]{16})_([0-9a-f]{40})$/;

/** API tokens: created (shown once), listed, revoked; stored hashed, compared in constant time. */
export class ApiTokens {
  constructor(private readonly storage: Storage) {}

  async create(input: unknown, createdBy: string, now: Date): Promise<{ token: string; info: TokenInfo }> {
    const spec = parseInput(createTokenSchema, input);
    const id = toHex(crypto.getRandomValues(new Uint8Array(8)));
    const token = `pyt_${id}_${toHex(crypto.getRandomValues(new Uint8Array(20)))}`;
    const match = spec.expiresIn ? DURATION.exec(spec.expiresIn)! : null;
    const info: TokenInfo = {
      id,
      name: spec.name,
      repos: spec.repos,
      admin: spec.admin,
      createdAt: now.toISOString(),
      createdBy,
      expiresAt: match ? new Date(now.getTime() + Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]).toISOString() : null,
    };
    await this.storage.put(authLayout.token(id), JSON.stringify({ ...info, sha256: await sha256Hex(token) } satisfies StoredToken), { ifNoneMatch: '*' });
    return { token, info };
  }

  async list(): Promise<TokenInfo[]> {
    const tokens: TokenInfo[] = [];
    for await (const obj of this.storage.list(authLayout.tokensPrefix)) {
      const stored = await readJson<StoredToken>(this.storage, obj.key);
      if (stored) tokens.push(withoutHash(stored));
    }
    return tokens.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id) || !(await this.storage.head(authLayout.token(id)))) throw new PackyardError(404, 'token-not-found', `no token ${id}`);
    await this.storage.delete(authLayout.token(id));
  }

  /** The token's record when `token` is a valid, unexpired API token; null otherwise. */
  async verify(token: string, now: number): Promise<TokenInfo | null> {
    const match = TOKEN.exec(token);
    if (!match) return null;
    const stored = await readJson<StoredToken>(this.storage, authLayout.token(match[1]!));
    if (!stored || !constantTimeEqual(stored.sha256, await sha256Hex(token))) return null;
    if (stored.expiresAt && Date.parse(stored.expiresAt) <= now) return null;
    return withoutHash(stored);
  }
}

export function isApiToken(token: string): boolean {
  return TOKEN.test(token);
}

function withoutHash({ sha256: _, ...info }: StoredToken): TokenInfo {
  return info;
}
