// github: a repository synced from GitHub Releases (the tests' GitHub stand-in, two real HTTP
// servers in this process) by a running `packyard serve`: the first sync of N packages, a sync
// with nothing changed, and a release webhook until the new snapshot is served.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { serve } from './lib/packyard.mjs';
import { ROOT, run as runCommand, tempDir } from './lib/proc.mjs';
import { DIST, countStanzas } from './lib/repos.mjs';
import { addReleases, assetSize, createSyncedRepo, oneAsset, releaseAssets, startStandin, syncRepo } from './lib/github.mjs';
import { check, fmt, median, table, writeResults } from './lib/stats.mjs';

export const description = 'a repository synced from GitHub Releases (the stand-in) by packyard serve: first sync, no-change sync, webhook to published snapshot';
export const defaultN = 500;
export const defaultRuns = 3;

/** The shape: 100 releases of 5 .deb assets. */
const PER_RELEASE = 5;
/** Webhook deliveries per run (each a new release with one asset). */
const WEBHOOKS = 3;
const FULL_NAME = 'bench/releases';
const REPO = 'gh';
/** Budgets (issue 14). */
const FIRST_SYNC_MS = 30_000;
const FETCHED_SHARE = 0.1;
const WEBHOOK_MS = 2000;
const NO_CHANGE_COUNTED = 2;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The counters of the stand-in (not its request log). */
const counters = ({ log, ...rest }) => ({ ...rest, assetRanges: log.filter((e) => e.host === 'assets' && e.range).length });

async function served(server, path) {
  const res = await fetch(`${server.url}/${REPO}/dists/${DIST}/${path}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return body;
}

export async function run({ n, runs }) {
  await runCommand(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  const assets = await releaseAssets(n);
  const total = assets.reduce((s, a) => s + a.bytes.length, 0);
  const { gh, webhookHeaders } = await startStandin();
  gh.addRepo(FULL_NAME);
  addReleases(gh, FULL_NAME, assets, PER_RELEASE);
  const releases = Math.ceil(n / PER_RELEASE);
  const work = tempDir('github');
  const secret = randomBytes(16).toString('hex');

  const firsts = [];
  const noChanges = [];
  const hooks = [];
  let extra = n; // packages of the webhook releases: fresh ones after the N
  for (let r = 0; r < runs; r++) {
    const server = await serve(join(work, `data-${r}`));
    try {
      await createSyncedRepo(server, REPO, gh, FULL_NAME, { webhookSecret: secret });

      // First sync: every release listed, every .deb read from its first bytes (digests given).
      gh.resetStats();
      const first = await syncRepo(server, REPO);
      const firstStats = counters(gh.stats);
      if (first.report.added.length !== n) throw new Error(`first sync added ${first.report.added.length} packages, not ${n}: ${JSON.stringify(first.report.skipped.slice(0, 5))}`);
      const listed = countStanzas(await served(server, 'main/binary-amd64/Packages.gz'));
      if (listed !== n) throw new Error(`after the first sync the served Packages.gz lists ${listed} packages, not ${n}`);
      firsts.push({ ms: first.ms, bytesFetched: first.report.bytesFetched, pages: first.report.requests.pages, stats: firstStats });
      console.error(`github run ${r + 1}/${runs}: first sync ${fmt.s(first.ms)}, ${fmt.mb(firstStats.assetBytes)} of ${fmt.mb(total)} fetched in ${firstStats.assetRequests} asset requests, ${firstStats.apiRequests} API requests (${firstStats.counted} counted)`);

      // Nothing changed: conditional listing (304s cost no rate limit), nothing read or published.
      gh.resetStats();
      const again = await syncRepo(server, REPO);
      const againStats = counters(gh.stats);
      if (again.report.snapshot !== null || again.report.unchanged !== n) throw new Error(`the no-change sync published ${again.report.snapshot} / left ${again.report.unchanged} unchanged`);
      noChanges.push({ ms: again.ms, stats: againStats });
      console.error(`github run ${r + 1}/${runs}: no-change sync ${fmt.ms(again.ms)}, ${againStats.apiRequests} API requests (${againStats.counted} counted, ${againStats.notModified} × 304), ${againStats.assetRequests} asset requests`);

      // Webhooks: a new release with one asset, the signed `release` event POSTed; timed until
      // the answer (the sync inside it) and until the served InRelease is the new snapshot's.
      const tags = [];
      for (let w = 0; w < WEBHOOKS; w++) {
        const i = extra++;
        const asset = await oneAsset(work, i, assetSize(i));
        const tag = `v2.${r}.${w}`;
        const before = (await served(server, 'InRelease')).toString();
        gh.addRelease(FULL_NAME, { tag, assets: [{ name: asset.name, bytes: asset.bytes }] });
        tags.push(tag);
        const body = JSON.stringify({ action: 'published', release: { tag_name: tag, draft: false, prerelease: false }, repository: { full_name: FULL_NAME, private: false } });
        gh.resetStats();
        const started = performance.now();
        const res = await fetch(`${server.url}/api/v1/repos/${REPO}/github-webhook`, { method: 'POST', headers: webhookHeaders(secret, 'release', body), body });
        const json = await res.json();
        const answer = performance.now() - started;
        if (res.status !== 200 || json.report?.added?.length !== 1) throw new Error(`webhook: HTTP ${res.status} ${JSON.stringify(json).slice(0, 500)}`);
        let head;
        for (;;) {
          if ((await served(server, 'InRelease')).toString() !== before) {
            head = performance.now() - started;
            break;
          }
          if (performance.now() - started > 30_000) throw new Error('webhook: the served InRelease did not change within 30 s');
          await sleep(5);
        }
        const stats = counters(gh.stats);
        hooks.push({ answer, head, stats });
        console.error(`github run ${r + 1}/${runs}: webhook ${w + 1}/${WEBHOOKS}: answered after ${fmt.ms(answer)}, new InRelease served after ${fmt.ms(head)} (${stats.counted} counted API requests, ${fmt.mb(stats.assetBytes)} of assets)`);
      }
      const listedAfter = countStanzas(await served(server, 'main/binary-amd64/Packages.gz'));
      if (listedAfter !== n + WEBHOOKS) throw new Error(`after the webhooks the served Packages.gz lists ${listedAfter} packages, not ${n + WEBHOOKS}`);
      for (const tag of tags) gh.removeRelease(FULL_NAME, tag); // the next run starts from the same N
    } finally {
      await server.stop();
    }
  }
  if (gh.stats.assetAuthRefused) throw new Error('an asset request carried an Authorization header');

  const med = (xs, f) => median(xs.map(f));
  const lo = (xs, f) => Math.min(...xs.map(f));
  const hi = (xs, f) => Math.max(...xs.map(f));
  const firstMs = med(firsts, (x) => x.ms);
  const fetchedWorst = hi(firsts, (x) => x.stats.assetBytes);
  const hookHead = med(hooks, (x) => x.head);
  const countedWorst = hi(noChanges, (x) => x.stats.counted);
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  table(
    `github: ${releases} releases × ${PER_RELEASE} .deb assets (${n} packages, ${fmt.mb(total)}, 1–3 MiB each, digests given) synced by packyard serve (median of ${runs} runs; webhooks ${runs}×${WEBHOOKS})`,
    ['figure', 'median', 'min', 'max', 'budget', ''],
    [
      [`first sync of ${n} packages`, fmt.s(firstMs), fmt.s(lo(firsts, (x) => x.ms)), fmt.s(hi(firsts, (x) => x.ms)), `≤ ${FIRST_SYNC_MS / 1000} s`, verdict(firstMs <= FIRST_SYNC_MS)],
      ['  asset bytes fetched (stand-in count)', fmt.mb(med(firsts, (x) => x.stats.assetBytes)), fmt.mb(lo(firsts, (x) => x.stats.assetBytes)), fmt.mb(fetchedWorst), `≤ ${FETCHED_SHARE * 100} % = ${fmt.mb(total * FETCHED_SHARE)}`, verdict(fetchedWorst <= total * FETCHED_SHARE)],
      ['  … share of the assets’ size', `${((100 * med(firsts, (x) => x.stats.assetBytes)) / total).toFixed(1)} %`, '', `${((100 * fetchedWorst) / total).toFixed(1)} %`, '', ''],
      ['  bytesFetched in the sync report', fmt.mb(med(firsts, (x) => x.bytesFetched)), '', '', '', ''],
      ['no-change sync', fmt.ms(med(noChanges, (x) => x.ms)), fmt.ms(lo(noChanges, (x) => x.ms)), fmt.ms(hi(noChanges, (x) => x.ms)), '(info)', ''],
      ['  rate-limited requests', String(med(noChanges, (x) => x.stats.counted)), String(lo(noChanges, (x) => x.stats.counted)), String(countedWorst), `≤ ${NO_CHANGE_COUNTED}`, verdict(countedWorst <= NO_CHANGE_COUNTED)],
      [`webhook → answer (sync of ${n}+1 inside)`, fmt.ms(med(hooks, (x) => x.answer)), fmt.ms(lo(hooks, (x) => x.answer)), fmt.ms(hi(hooks, (x) => x.answer)), '(info)', ''],
      ['webhook → new snapshot served (InRelease)', fmt.ms(hookHead), fmt.ms(lo(hooks, (x) => x.head)), fmt.ms(hi(hooks, (x) => x.head)), `≤ ${fmt.s(WEBHOOK_MS)}`, verdict(hookHead <= WEBHOOK_MS)],
    ],
  );
  const requestRow = (name, xs) => [name, ...['apiRequests', 'counted', 'notModified', 'assetRequests', 'assetRanges'].map((k) => String(med(xs, (x) => x.stats[k]))), fmt.mb(med(xs, (x) => x.stats.assetBytes))];
  table(
    'github: requests the stand-in answered (median per sync)',
    ['sync', 'API host', 'counted', '304', 'asset host', 'ranged', 'asset bytes'],
    [requestRow('first sync', firsts), requestRow('no-change sync', noChanges), requestRow('webhook (one new release)', hooks)],
  );
  console.log(
    [
      `The stand-in runs in the benchmark's process on the same 2 cores as the server, over loopback: GitHub's latency`,
      `(tens of ms per request) is not in these times; its request counts are. The API host's count includes the download-URL`,
      `requests (browser_download_url, not rate limited, a 302 to the asset host). Each run is a fresh data directory.`,
    ].join('\n'),
  );

  const checks = [
    check('github', `first sync of ${n} packages (median of ${runs}) ÷ ${FIRST_SYNC_MS / 1000} s`, firstMs / FIRST_SYNC_MS, 1, 'max', `(${fmt.s(firstMs)})`),
    check('github', `asset bytes fetched by the first sync ÷ the assets' size (worst of ${runs})`, fetchedWorst / total, FETCHED_SHARE, 'max', `(${fmt.mb(fetchedWorst)} of ${fmt.mb(total)})`),
    check('github', `webhook to the new snapshot served, ${n}-package repository (median of ${hooks.length}) ÷ ${WEBHOOK_MS / 1000} s`, hookHead / WEBHOOK_MS, 1, 'max', `(${fmt.ms(hookHead)}; worst ${fmt.ms(hi(hooks, (x) => x.head))})`),
    check('github', `no-change sync, rate-limited requests (worst of ${runs}) ÷ ${NO_CHANGE_COUNTED}`, countedWorst / NO_CHANGE_COUNTED, 1, 'max', `(${countedWorst}; ${fmt.ms(med(noChanges, (x) => x.ms))} median)`),
  ];
  writeResults('github', { n, runs, releases, perRelease: PER_RELEASE, assetBytes: total, unit: 'ms', firsts, noChanges, webhooks: hooks, checks });
  return checks;
}
