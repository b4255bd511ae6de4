/**
 * Differential decoding against iproute2 on the real kernel. Each round builds a random state
 * in a namespace of its own, dumps it with this library (views in `ip -j` form) and with
 * `ip -j -d`, and compares every field that both print.
 *
 * The seed is printed with every run and with every failure; ALGO_NETNS_SEED=<seed> replays
 * a run, and ALGO_NETNS_STATES=<n> sets the number of rounds (default 40).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import anyTest, { type TestFn } from 'ava';

import { AF_INET, AF_INET6 } from '../../src/netlink/constants.js';
import { listAddresses } from '../../src/ops/addresses.js';
import { openNamedNamespace, type NetnsHandle } from '../../src/ops/handle.js';
import { listLinks } from '../../src/ops/links.js';
import { createNamespace, deleteNamespace } from '../../src/ops/netns.js';
import { listRoutes } from '../../src/ops/routes.js';
import { listRules } from '../../src/ops/rules.js';
import { addressView, indexLinks, linkView, routeView, ruleView } from '../../src/ops/show.js';
import { probeFeature } from '../sandbox.js';
import { compareCommonFields, compareLists, newComparison, type Comparison } from './compare.js';
import { randomState, seededRandom, seedFromEnvironment, type StateFeatures } from './random-state.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping differential.test.js: not inside the integration sandbox; run npm run test:integration');

const run = promisify(execFile);

const DEFAULT_STATES = 40;
const STABLE_ATTEMPTS = 6;
const STABLE_WAIT_MS = 300;
const VETH_SETTLE_MS = 3000;

type Json = Record<string, unknown>;

interface Views {
  links: Json[];
  addresses: Json[];
  routes4: Json[];
  routes6: Json[];
  rules4: Json[];
  rules6: Json[];
}

function stateCount(): number {
  const value = process.env['ALGO_NETNS_STATES'];
  if (value === undefined || value === '') return DEFAULT_STATES;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new Error(`ALGO_NETNS_STATES must be a positive integer, got "${value}"`);
  return count;
}

async function ipJson(namespace: string, args: string[]): Promise<Json[]> {
  const { stdout } = await run('ip', ['-n', namespace, '-j', '-d', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout.trim() === '' ? '[]' : stdout) as Json[];
}

async function theirViews(namespace: string): Promise<Views> {
  return {
    links: await ipJson(namespace, ['link', 'show']),
    addresses: await ipJson(namespace, ['address', 'show']),
    routes4: await ipJson(namespace, ['-4', 'route', 'show', 'table', 'all']),
    routes6: await ipJson(namespace, ['-6', 'route', 'show', 'table', 'all']),
    rules4: await ipJson(namespace, ['-4', 'rule', 'show']),
    rules6: await ipJson(namespace, ['-6', 'rule', 'show']),
  };
}

async function ourViews(ns: NetnsHandle): Promise<Views> {
  const links = await listLinks(ns);
  const byIndex = indexLinks(links);
  const addresses = await listAddresses(ns);
  return {
    links: links.map((link) => linkView(link, byIndex)),
    addresses: links.map((link) => ({
      ...linkView(link, byIndex),
      addr_info: addresses.filter((address) => address.index === link.index).map(addressView),
    })),
    routes4: (await listRoutes(ns, 4)).filter((route) => route.family === AF_INET).map((route) => routeView(route, byIndex)),
    routes6: (await listRoutes(ns, 6)).filter((route) => route.family === AF_INET6).map((route) => routeView(route, byIndex)),
    rules4: (await listRules(ns, 4)).map(ruleView),
    rules6: (await listRules(ns, 6)).map(ruleView),
  };
}

/** Returns the views without what changes by itself (lifetimes, timers, counters), to compare two moments. */
function settled(views: Views): string {
  return JSON.stringify(views, (key, value: unknown) => (/_life_time$|_timer$|^expires$|^stats/.test(key) ? undefined : value));
}

function routeKey(route: Json): string {
  return [route.type ?? 'unicast', route.dst, route.table ?? 'main', route.dev ?? '-', route.metric ?? '-', route.gateway ?? '-'].join(' ');
}

function ruleKey(rule: Json): string {
  return [rule.priority, rule.src, rule.dst ?? '-', rule.iif ?? '-', rule.oif ?? '-', rule.fwmark ?? '-'].join(' ');
}

function addressKey(address: Json): string {
  return `${String(address.family)} ${String(address.local)}/${String(address.prefixlen)}`;
}

function compareViews(ours: Views, theirs: Views, comparison: Comparison): void {
  compareLists(ours.links, theirs.links, (link) => String(link.ifindex), 'link', comparison);
  compareLists(ours.addresses, theirs.addresses, (link) => String(link.ifindex), 'addresses of link', comparison, (a, b, path) => {
    const { addr_info: ourAddresses, ...ourLink } = a as Json & { addr_info: Json[] };
    const { addr_info: theirAddresses = [], ...theirLink } = b as Json & { addr_info?: Json[] };
    compareCommonFields(ourLink, theirLink, path, comparison);
    compareLists(ourAddresses, theirAddresses, addressKey, `${path} address`, comparison);
  });
  compareLists(ours.routes4, theirs.routes4, routeKey, 'IPv4 route', comparison);
  compareLists(ours.routes6, theirs.routes6, routeKey, 'IPv6 route', comparison);
  compareLists(ours.rules4, theirs.rules4, ruleKey, 'IPv4 rule', comparison);
  compareLists(ours.rules6, theirs.rules6, ruleKey, 'IPv6 rule', comparison);
}

/**
 * Runs `ip -n NS -batch -` with `-force`, so that one failing line does not stop the rest,
 * and returns the lines that failed with iproute2's message for each.
 */
async function ipBatch(namespace: string, commands: string[], family: 4 | 6 = 4): Promise<{ command: string; error: string }[]> {
  const options = family === 6 ? ['-6'] : [];
  const child = spawn('ip', ['-n', namespace, ...options, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(`${commands.join('\n')}\n`);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });

  // iproute2 writes its message, then "Command failed -:LINE".
  const failed: { command: string; error: string }[] = [];
  let message: string[] = [];
  for (const line of stderr.split('\n')) {
    const end = /^Command failed -:(\d+)$/.exec(line);
    if (!end) {
      if (line.trim() !== '') message.push(line.trim());
      continue;
    }
    failed.push({ command: commands[Number(end[1]) - 1] ?? `line ${end[1]}`, error: message.join(' ') });
    message = [];
  }
  return failed;
}

/** Waits until every veth whose two ends are up reports operstate UP, for at most 3 seconds. */
async function waitForVethCarrier(namespace: string): Promise<void> {
  const deadline = Date.now() + VETH_SETTLE_MS;
  while (Date.now() < deadline) {
    const links = await ipJson(namespace, ['link', 'show']);
    const up = (link: Json | undefined) => Array.isArray(link?.flags) && (link.flags as string[]).includes('UP');
    const waiting = links.filter((link) => {
      const info = link.linkinfo as { info_kind?: string } | undefined;
      const peer = links.find((other) => other.ifname === link.link);
      return info?.info_kind === 'veth' && up(link) && up(peer) && link.operstate !== 'UP';
    });
    if (waiting.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function probeFeatures(): Promise<StateFeatures> {
  const macvlan = await probeFeature('macvlan', ['sh', '-c', 'ip link add pv type veth peer name pw && ip link add pm link pv type macvlan']);
  const tap = await probeFeature('TUN/TAP', ['ip', 'tuntap', 'add', 'dev', 'probe-tap', 'mode', 'tap']);
  if (macvlan) console.log(`differential: no macvlan links in the random states: ${macvlan}`);
  if (tap) console.log(`differential: no tap links in the random states: ${tap}`);
  return { macvlan: macvlan === null, tap: tap === null };
}

test('random states decode as ip -j -d shows them', async (t) => {
  const seed = seedFromEnvironment();
  const states = stateCount();
  const features = await probeFeatures();
  const random = seededRandom(seed);
  t.log(`seed ${seed} (replay with ALGO_NETNS_SEED=${seed}), ${states} random states`);

  const totals = { states: 0, fields: 0, objects: 0, failedLines: 0, retries: 0 };
  for (let round = 0; round < states; round++) {
    const state = randomState(random, features);
    const namespace = `diff-${round}-${randomBytes(3).toString('hex')}`;
    await createNamespace(namespace);
    const ns = await openNamedNamespace(namespace);
    try {
      // Without duplicate address detection IPv6 addresses are final at once, instead of
      // tentative for a second while the two dumps run.
      for (const scope of ['all', 'default', 'lo']) await ns.writeSysctl(`net.ipv6.conf.${scope}.accept_dad`, '0');
      const failed = await ipBatch(namespace, state.commands);
      await waitForVethCarrier(namespace);
      failed.push(...(await ipBatch(namespace, state.routeCommands)), ...(await ipBatch(namespace, state.commands6, 6)));
      totals.failedLines += failed.length;
      for (const line of failed) t.log(`round ${round}: \`ip ${line.command}\` failed: ${line.error}`);

      // Carrier and bridge port states settle on their own; compare a moment where ip saw
      // the same before and after our dump.
      let comparison: Comparison | null = null;
      for (let attempt = 0; attempt < STABLE_ATTEMPTS && comparison === null; attempt++) {
        const before = await theirViews(namespace);
        const ours = await ourViews(ns);
        const after = await theirViews(namespace);
        if (settled(before) === settled(after)) {
          comparison = newComparison();
          compareViews(ours, after, comparison);
        } else {
          totals.retries++;
          await new Promise((resolve) => setTimeout(resolve, STABLE_WAIT_MS));
        }
      }
      if (comparison === null) {
        t.fail(`round ${round} (seed ${seed}): the state kept changing during ${STABLE_ATTEMPTS} attempts`);
        continue;
      }

      totals.states++;
      totals.fields += comparison.fields;
      totals.objects += comparison.objects;
      t.deepEqual(comparison.differences, [], `round ${round} of seed ${seed} (replay with ALGO_NETNS_SEED=${seed}); state:\n${[...state.commands, ...state.routeCommands, ...state.commands6.map((line) => `-6 ${line}`)].join('\n')}`);
    } finally {
      await ns.close();
      await deleteNamespace(namespace);
    }
  }

  t.log(
    `${totals.states} random states compared: ${totals.objects} objects, ${totals.fields} fields; ` +
      `${totals.failedLines} generated lines failed, ${totals.retries} dumps taken again while the state settled`,
  );
  t.is(totals.states, states);
  t.true(totals.fields > 0);
  // The generator aims at valid lines only; a failed one narrows the test without hiding a
  // decoding difference. NOTE: about one state in a few hundred gets a gateway the kernel
  // rejects ("Nexthop has invalid gateway"), cause not yet found, so a few are tolerated.
  t.true(totals.failedLines <= Math.max(2, totals.objects / 500), `seed ${seed}: ${totals.failedLines} lines of the random states failed`);
});
