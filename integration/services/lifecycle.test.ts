/**
 * The life of what the services part adds, without daemons. The nftables table and the
 * resolv.conf files are planned, made once, repaired, replaced when the configuration changes,
 * and removed by `down`. A table and a resolv.conf that are not ours are left alone.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { runCli, writeConfigFile } from '../cli.js';
import { buildInternet } from '../internet.js';
import { insideRunnerSandbox, probeProgram, Sandbox, sandboxFor } from '../sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping services/lifecycle.test.js: not inside the integration sandbox; run npm run test:integration');

// WireGuard is off, so no wireguard-go is needed; the WireGuard test covers keys and peers.
const CONFIG = 'wireguard:\n  enabled: false\n';
const CONFIG_WITHOUT_NAT = 'wireguard:\n  enabled: false\nfirewall:\n  egressNat: false\n';
const CONFIG_TURNED_OFF = 'wireguard:\n  enabled: false\nfirewall:\n  enabled: false\ndns:\n  resolvConf: false\n';

const CREATE_TABLE = 'create nftables table inet algo_netns in the root namespace (DNAT, egress NAT, isolation)';
const OPERATOR_RESOLV_CONF = 'nameserver 192.0.2.53\n';

function changesIn(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('+ ') || line.startsWith('- '))
    .map((line) => line.slice(2));
}

async function freshHost(t: ExecutionContext): Promise<{ sandbox: Sandbox; config: string } | null> {
  const missing = await probeProgram('nft');
  if (missing) {
    t.log(`skipped: ${missing}`);
    t.pass();
    return null;
  }
  const sandbox = await sandboxFor(t);
  await buildInternet(sandbox);
  return { sandbox, config: await writeConfigFile('algo-netns.yaml', CONFIG) };
}

async function tableText(sandbox: Sandbox): Promise<string | null> {
  const listed = await sandbox.run(['nft', 'list', 'table', 'inet', 'algo_netns'], { allowFailure: true });
  return listed.code === 0 ? listed.stdout : null;
}

async function readFile(sandbox: Sandbox, path: string): Promise<string | null> {
  const read = await sandbox.run(['cat', path], { allowFailure: true });
  return read.code === 0 ? read.stdout : null;
}

test('table and resolv.conf are planned, made, repaired and removed', async (t) => {
  const host = await freshHost(t);
  if (!host) return;
  const { sandbox, config } = host;
  await sandbox.runShell(`mkdir -p /etc/netns/dns-ns && printf '${OPERATOR_RESOLV_CONF}' > /etc/netns/dns-ns/resolv.conf`);

  // A plan lists the table and the files, and makes nothing.
  const plan = await runCli(sandbox, ['plan', '--json', '--config', config]);
  t.is(plan.code, 0, plan.stderr);
  const planned = (JSON.parse(plan.stdout) as { changes: string[] }).changes;
  t.true(planned.includes(CREATE_TABLE), 'the plan creates the table');
  t.true(planned.includes('write /etc/netns/strongswan-ns/resolv.conf (nameservers 172.16.0.1/32, fd00::1/128)'), 'and a resolv.conf for strongswan-ns');
  t.false(planned.some((change) => change.includes('/etc/netns/dns-ns/')), "but not over the operator's file in dns-ns");
  t.is(await tableText(sandbox), null, 'the plan created no table');

  const up = await runCli(sandbox, ['up', '--config', config]);
  t.is(up.code, 0, up.stderr);
  const table = (await tableText(sandbox)) ?? '';
  t.regex(table, /comment "algo-netns ruleset sha256:[0-9a-f]{16}"/);
  t.regex(table, /iifname "eth0" fib daddr type local meta nfproto ipv4 udp dport \{ 500, 4500 \} dnat ip to 10\.47\.255\.6/);
  t.regex(table, /masquerade/);
  t.regex((await readFile(sandbox, '/etc/netns/strongswan-ns/resolv.conf')) ?? '', /^# Written by algo-netns up.*\nnameserver 172\.16\.0\.1\nnameserver fd00::1\n$/);
  t.is(await readFile(sandbox, '/etc/netns/dns-ns/resolv.conf'), OPERATOR_RESOLV_CONF, "the operator's resolv.conf is unchanged");
  t.regex(up.stdout, /notice: \/etc\/netns\/dns-ns\/resolv\.conf exists and was not written by algo-netns/);

  const second = await runCli(sandbox, ['up', '--config', config]);
  t.regex(second.stdout, /no change/, 'a second up changes nothing');

  // Repairs: a deleted table comes back; another configuration replaces it.
  await sandbox.run(['nft', 'delete', 'table', 'inet', 'algo_netns']);
  const repaired = await runCli(sandbox, ['up', '--config', config]);
  t.deepEqual(changesIn(repaired.stdout), [CREATE_TABLE, 'flush conntrack entries of UDP 500, UDP 4500 and ESP in the root namespace']);

  const withoutNat = await writeConfigFile('algo-netns.yaml', CONFIG_WITHOUT_NAT);
  const replaced = await runCli(sandbox, ['up', '--config', withoutNat]);
  t.regex(replaced.stdout, /\+ replace nftables table inet algo_netns/);
  t.notRegex((await tableText(sandbox)) ?? '', /masquerade/, 'egressNat: false removes the masquerade rules');
  t.regex((await tableText(sandbox)) ?? '', /dnat ip to 10\.47\.255\.6/, 'and keeps the DNAT');

  // Turned off in the configuration, both go at the next up, and come back when turned on.
  const turnedOff = await runCli(sandbox, ['up', '--config', await writeConfigFile('algo-netns.yaml', CONFIG_TURNED_OFF)]);
  t.is(turnedOff.code, 0, turnedOff.stderr);
  t.regex(turnedOff.stdout, /\+ delete nftables table inet algo_netns from the root namespace/);
  t.regex(turnedOff.stdout, /\+ delete \/etc\/netns\/strongswan-ns\/resolv\.conf/);
  t.is(await tableText(sandbox), null, 'firewall.enabled: false removes the table');
  t.is(await readFile(sandbox, '/etc/netns/strongswan-ns/resolv.conf'), null, 'dns.resolvConf: false removes our resolv.conf');
  t.is(await readFile(sandbox, '/etc/netns/dns-ns/resolv.conf'), OPERATOR_RESOLV_CONF, "but not the operator's");
  const back = await runCli(sandbox, ['up', '--config', withoutNat]);
  t.regex(back.stdout, /\+ create nftables table inet algo_netns/);

  const down = await runCli(sandbox, ['down', '--config', withoutNat]);
  t.is(down.code, 0, down.stderr);
  t.is(await tableText(sandbox), null, 'down deletes the table');
  t.is(await readFile(sandbox, '/etc/netns/strongswan-ns/resolv.conf'), null, 'and our resolv.conf');
  t.is((await sandbox.run(['ls', '-A', '/etc/netns'])).stdout.trim(), 'dns-ns', 'and its folder, but no other');
  t.is(await readFile(sandbox, '/etc/netns/dns-ns/resolv.conf'), OPERATOR_RESOLV_CONF, "the operator's file stays");

  const again = await runCli(sandbox, ['down', '--config', withoutNat]);
  t.regex(again.stdout, /no change/);
});

test('foreign table is rejected and kept', async (t) => {
  const host = await freshHost(t);
  if (!host) return;
  const { sandbox, config } = host;
  await sandbox.run(['nft', 'add', 'table', 'inet', 'algo_netns']);

  const refused = await runCli(sandbox, ['up', '--config', config]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /nftables table inet algo_netns exists and was not written by algo-netns/);
  t.regex(refused.stderr, /rolled back/);

  const down = await runCli(sandbox, ['down', '--config', config]);
  t.is(down.code, 0, down.stderr);
  t.regex((await tableText(sandbox)) ?? '', /^table inet algo_netns \{/, 'down leaves the foreign table');
  t.notRegex((await tableText(sandbox)) ?? '', /comment/);
});

test('down removes the table of a killed up', async (t) => {
  const host = await freshHost(t);
  if (!host) return;
  const { sandbox, config } = host;

  const plan = await runCli(sandbox, ['plan', '--json', '--config', config]);
  const step = (JSON.parse(plan.stdout) as { changes: string[] }).changes.indexOf(CREATE_TABLE) + 1;
  t.true(step > 0, 'the plan creates the table');

  const killed = await runCli(sandbox, ['up', '--config', config], { env: { ALGO_NETNS_TEST_KILL_AFTER: String(step) } });
  t.is(killed.signal, 'SIGKILL', `up was killed right after change ${step}`);
  t.not(await tableText(sandbox), null, 'the table was made before the kill');

  const down = await runCli(sandbox, ['down', '--config', config]);
  t.is(down.code, 0, down.stderr);
  t.is(await tableText(sandbox), null, 'down deletes it');
});
