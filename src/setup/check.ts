/**
 * `check`: the health of a running topology. It verifies every wanted namespace, link,
 * address, route and rule, and that each service daemon runs inside its own namespace. It
 * also reads WireGuard handshakes and queries the DNS service addresses from inside the VPN
 * namespaces.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { namespacePath } from '../ops/netns.js';
import { findProgram } from '../ops/programs.js';
import { HelperError, runHelper } from '../ops/spawn.js';
import type { TopologyConfig } from './config.js';
import { status } from './status.js';
import { isolationRules, serviceLayouts, type ServiceLayout } from './topology.js';

export interface CheckResult {
  /** Kind of check, such as "namespace" or "dns-answers". */
  check: string;
  /** The object checked, such as "wireguard-ns" or "172.16.0.1 from strongswan-ns". */
  target: string;
  ok: boolean;
  detail: string;
}

export interface HealthReport {
  ok: boolean;
  results: CheckResult[];
  /** Seconds since each WireGuard peer's latest handshake (null: never), by public key. */
  handshakes: { peer: string; secondsAgo: number | null }[];
}

/**
 * Process names (/proc/PID/comm) of each service's daemon. The DNS resolver is Algo's
 * dnscrypt-proxy, or a stand-in such as dnsmasq or unbound.
 */
const DAEMONS: Record<string, string[]> = {
  strongswan: ['charon', 'charon-systemd'],
  dns: ['dnscrypt-proxy', 'dnsmasq', 'unbound'],
};

const PROBE = fileURLToPath(new URL('./dns-probe.js', import.meta.url));

/** Runs every check; `ok` is false if any failed. */
export async function check(config: TopologyConfig): Promise<HealthReport> {
  const results: CheckResult[] = [];
  const handshakes: HealthReport['handshakes'] = [];

  const live = await status(config);
  for (const service of live.services) {
    results.push({ check: 'namespace', target: service.namespace, ok: service.exists, detail: service.exists ? 'present' : 'missing' });
    if (!service.exists) continue;
    const problems = service.missing.filter((piece) => !piece.startsWith('namespace '));
    results.push({ check: 'topology', target: service.namespace, ok: problems.length === 0, detail: problems.length === 0 ? 'links, addresses and default route present' : `missing: ${problems.join('; ')}` });
  }
  const rules = isolationRules(config);
  results.push({ check: 'rules', target: 'root namespace', ok: live.rules.length >= rules.length, detail: `${live.rules.length} of ${rules.length} isolation rules present` });

  const layouts = serviceLayouts(config);
  for (const layout of layouts) {
    const exists = live.services.find((service) => service.namespace === layout.namespace)?.exists ?? false;
    if (!exists) continue;
    results.push(...(await checkDaemons(layout)));
    if (layout.wireguard) results.push(await checkWireGuard(layout, handshakes));
  }
  results.push(...(await checkDns(layouts, live.services.filter((service) => service.exists).map((service) => service.namespace))));

  return { ok: results.every((result) => result.ok), results, handshakes };
}

// A daemon counts when its network namespace is the service's: the same device and inode
// as the bind mount under /run/netns.
async function checkDaemons(layout: ServiceLayout): Promise<CheckResult[]> {
  const names = DAEMONS[layout.service];
  if (!names) return [];

  const wanted = await stat(namespacePath(layout.namespace));
  const inside: string[] = [];
  const outside: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    if (!names.includes(comm)) continue;
    const net = await stat(`/proc/${entry}/ns/net`).catch(() => null);
    if (!net) continue;
    (net.dev === wanted.dev && net.ino === wanted.ino ? inside : outside).push(`${comm} (pid ${entry})`);
  }

  const target = `${layout.service} in ${layout.namespace}`;
  const results: CheckResult[] = [];
  if (outside.length > 0) results.push({ check: 'daemon', target, ok: false, detail: `running outside ${layout.namespace}: ${outside.join(', ')}` });
  if (inside.length > 0) results.push({ check: 'daemon', target, ok: true, detail: `running: ${inside.join(', ')}` });
  else results.push({ check: 'daemon', target, ok: false, detail: `no ${names.join(' or ')} process runs inside ${layout.namespace}` });
  return results;
}

async function checkWireGuard(layout: ServiceLayout, handshakes: HealthReport['handshakes']): Promise<CheckResult> {
  const name = layout.wireguard?.adopt ?? layout.wireguard?.interface ?? 'wg0';
  const target = `${name} in ${layout.namespace}`;
  let output: string;
  try {
    const wg = (await findProgram('wg')) ?? 'wg';
    ({ stdout: output } = await runHelper(['nsenter', `--net=${namespacePath(layout.namespace)}`, '--', wg, 'show', name, 'latest-handshakes']));
  } catch (error) {
    const reason = error instanceof HelperError ? error.stderr.trim() || error.message : (error as Error).message;
    return { check: 'wireguard', target, ok: false, detail: `wg show failed: ${reason}` };
  }

  const now = Math.floor(Date.now() / 1000);
  for (const line of output.trim().split('\n').filter(Boolean)) {
    const [peer = '', time = '0'] = line.split('\t');
    const seconds = Number(time);
    handshakes.push({ peer, secondsAgo: seconds > 0 ? now - seconds : null });
  }
  const recent = handshakes.filter((entry) => entry.secondsAgo !== null).length;
  return { check: 'wireguard', target, ok: true, detail: `${handshakes.length} peers, ${recent} with a handshake` };
}

// Clients query the service addresses from inside the VPN namespaces, so the check does too.
async function checkDns(layouts: ServiceLayout[], present: string[]): Promise<CheckResult[]> {
  const dns = layouts.find((layout) => layout.service === 'dns');
  if (!dns) return [];

  const results: CheckResult[] = [];
  for (const layout of layouts.filter((candidate) => candidate.forwarding && present.includes(candidate.namespace))) {
    for (const address of dns.loopbackAddresses) {
      const server = address.slice(0, address.indexOf('/'));
      const target = `${server} from ${layout.namespace}`;
      try {
        const { stdout } = await runHelper(['nsenter', `--net=${namespacePath(layout.namespace)}`, '--', process.execPath, PROBE, server], { timeoutMs: 5000 });
        results.push({ check: 'dns-answers', target, ok: true, detail: `answered ${stdout.trim()}` });
      } catch (error) {
        const reason = error instanceof HelperError ? error.stderr.trim() || error.message : (error as Error).message;
        results.push({ check: 'dns-answers', target, ok: false, detail: reason });
      }
    }
  }
  return results;
}
