import { PackyardError } from '../util/errors.js';
import { deleteAll, readJson, type Storage } from '../storage/types.js';
import { authLayout } from './storage-keys.js';
import { newOidcPolicy, type OidcPolicy } from './oidc.js';

/** How long a repository's policies are reused before they are listed again. */
const FRESH_MS = 5_000;

/** The OIDC trust policies of each repository, one stored document each. */
export class OidcPolicies {
  private readonly cache = new Map<string, { policies: OidcPolicy[]; at: number }>();

  private readonly now: () => number;
  /** Admits `http://` issuers on a loopback host (tests, local issuers). */
  private readonly allowInsecure: boolean;

  constructor(
    private readonly storage: Storage,
    options: { now?: () => number; allowInsecure?: boolean } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.allowInsecure = options.allowInsecure ?? false;
  }

  async list(repo: string): Promise<OidcPolicy[]> {
    const cached = this.cache.get(repo);
    if (cached && this.now() - cached.at < FRESH_MS) return cached.policies;
    const policies: OidcPolicy[] = [];
    for await (const obj of this.storage.list(authLayout.oidcPoliciesPrefix(repo))) {
      const policy = await readJson<OidcPolicy>(this.storage, obj.key);
      if (policy) policies.push(policy);
    }
    policies.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    this.cache.set(repo, { policies, at: this.now() });
    return policies;
  }

  /** Validates and stores a new policy from API input. */
  async add(repo: string, input: unknown): Promise<OidcPolicy> {
    const policy = newOidcPolicy(input, { allowInsecure: this.allowInsecure }, new Date(this.now()));
    await this.storage.put(authLayout.oidcPolicy(repo, policy.id), JSON.stringify(policy), { ifNoneMatch: '*' });
    this.cache.delete(repo);
    return policy;
  }

  async remove(repo: string, id: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(id) || !(await this.storage.head(authLayout.oidcPolicy(repo, id)))) throw new PackyardError(404, 'policy-not-found', `repository ${repo} has no OIDC policy ${id}`);
    await this.storage.delete(authLayout.oidcPolicy(repo, id));
    this.cache.delete(repo);
  }

  async removeAll(repo: string): Promise<void> {
    await deleteAll(this.storage, authLayout.oidcPoliciesPrefix(repo));
    this.cache.delete(repo);
  }
}
