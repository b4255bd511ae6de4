/**
 * A normalized picture of a sandbox's network state, to compare runs: names, addresses,
 * routes, rules and sysctls, without what changes from one creation to the next (interface
 * indexes, MAC and link-local addresses, namespace ids, lifetimes).
 */
import type { Sandbox } from './sandbox.js';

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { local: string; prefixlen: number; scope?: string }[];
}
interface IpRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
  table?: string;
  metric?: number;
}
interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  action?: string;
  table?: string;
  protocol?: string | number;
}

const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.ipv4.conf.all.rp_filter'];

/** Returns the normalized state of the sandbox's root namespace and every namespace in it. */
export async function hostState(sandbox: Sandbox): Promise<string> {
  const namespaces = (await sandbox.ipJson<{ name: string }[]>(['netns', 'list'])).map((entry) => entry.name).sort();
  const lines = [`namespaces: ${namespaces.join(' ')}`];
  for (const namespace of ['', ...namespaces]) lines.push(...(await namespaceState(sandbox, namespace)));

  const files = await sandbox.runShell('ls -1 /run/netns 2>/dev/null; echo ---; cat /run/algo-netns/state.json 2>/dev/null || true');
  lines.push(`files: ${files.stdout.trim().replace(/\s+/g, ' ')}`);
  return lines.join('\n');
}

async function namespaceState(sandbox: Sandbox, namespace: string): Promise<string[]> {
  const scope = namespace ? ['-n', namespace] : [];
  const tag = namespace || 'root';
  const lines: string[] = [];

  const links = await sandbox.ipJson<IpLink[]>([...scope, '-d', 'address', 'show']);
  for (const link of links.sort((a, b) => a.ifname.localeCompare(b.ifname))) {
    const up = link.flags?.includes('UP') ? 'up' : 'down';
    const addresses = (link.addr_info ?? [])
      .filter((address) => address.scope !== 'link')
      .map((address) => `${address.local}/${address.prefixlen}`)
      .sort();
    lines.push(`${tag} link ${link.ifname} ${link.linkinfo?.info_kind ?? '-'} ${up} mtu ${link.mtu} alias ${link.ifalias ?? '-'} ${addresses.join(' ')}`);
  }

  for (const family of ['-4', '-6']) {
    const routes = await sandbox.ipJson<IpRoute[]>([...scope, family, 'route', 'show', 'table', 'all']);
    const kept = routes.filter((route) => !route.dst.startsWith('fe80') && !route.dst.startsWith('ff00') && route.table !== 'local');
    for (const route of kept) {
      lines.push(`${tag} route ${route.type ?? 'unicast'} ${route.dst} via ${route.gateway ?? '-'} dev ${route.dev ?? '-'} proto ${route.protocol ?? '-'} table ${route.table ?? 'main'} metric ${route.metric ?? 0}`);
    }
    const rules = await sandbox.ipJson<IpRule[]>([...scope, family, 'rule', 'show']);
    for (const rule of rules) {
      lines.push(`${tag} rule ${rule.priority} from ${rule.src ?? 'all'}/${rule.srclen ?? 0} to ${rule.dst ?? 'all'}/${rule.dstlen ?? 0} ${rule.action ?? `lookup ${rule.table}`} proto ${rule.protocol ?? '-'}`);
    }
  }

  const exec = namespace ? ['ip', 'netns', 'exec', namespace] : [];
  const { stdout } = await sandbox.run([...exec, 'sysctl', ...SYSCTLS]);
  lines.push(...stdout.trim().split('\n').map((line) => `${tag} ${line}`));
  return lines.sort();
}
