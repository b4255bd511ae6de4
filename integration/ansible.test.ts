/**
 * The Ansible role in ansible/roles/algo_netns, run against localhost inside a sandbox with
 * the working tree's build as the algo-netns command.
 *
 * Every path the role writes is redirected into a temporary folder (the configuration file, the
 * unit root, Ansible's own temporary files), and the namespaces that up makes are in the sandbox,
 * so the run changes nothing on the machine. The role's systemd steps that need a running
 * systemd (stopping, starting and enabling services) are turned off by variable, because they
 * would act on the machine's own systemd where it is PID 1.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { parse } from 'yaml';

import { CLI_PATH } from './cli.js';
import { insideRunnerSandbox, probeProgram, type RunResult, sandboxFor, skipsFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping ansible.test.js: not inside the integration sandbox; run npm run test:integration');

/** The ansible folder of the source tree (tests run from dist/integration). */
const ANSIBLE_FOLDER = fileURLToPath(new URL('../../ansible/', import.meta.url));

/** Milliseconds one playbook run may take; a run took about 9 s on a 2-CPU build machine. */
const PLAYBOOK_TIMEOUT_MS = 180_000;

interface PlayRecap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

/** Reads the PLAY RECAP line of localhost, or throws with the whole output. */
function playRecap(result: RunResult): PlayRecap {
  const match = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(result.stdout);
  if (match === null) {
    throw new Error(`no PLAY RECAP line for localhost in the output of ansible-playbook:\n${result.stdout}\n${result.stderr}`);
  }

  const [, ok, changed, unreachable, failed] = match.map(Number);
  return { ok: ok ?? -1, changed: changed ?? -1, unreachable: unreachable ?? -1, failed: failed ?? -1 };
}

/** Makes a temporary folder for one test and removes it afterwards. */
async function scratchFolder(t: ExecutionContext): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-ansible-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

/** Environment that keeps Ansible's temporary files and caches inside `folder`. */
function ansibleEnvironment(folder: string): NodeJS.ProcessEnv {
  return {
    ANSIBLE_HOME: join(folder, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: join(folder, 'ansible-tmp'),
    ANSIBLE_REMOTE_TEMP: join(folder, 'ansible-tmp'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_RETRY_FILES_ENABLED: '0',
    XDG_CACHE_HOME: join(folder, 'cache'),
  };
}

test('playbook passes the syntax check', async (t) => {
  const missing = await probeProgram('ansible-playbook');
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const folder = await scratchFolder(t);

  const result = await sandbox.run(['ansible-playbook', '-i', 'inventory.yml', 'playbook.yml', '--syntax-check'], {
    cwd: ANSIBLE_FOLDER,
    env: ansibleEnvironment(folder),
    allowFailure: true,
    timeoutMs: 60_000,
  });
  t.is(result.code, 0, `${result.stdout}${result.stderr}`);
});

test('role passes ansible-lint', async (t) => {
  const missing = await probeProgram('ansible-lint');
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const folder = await scratchFolder(t);

  // The profile (production) and offline mode come from ansible/.ansible-lint.
  const result = await sandbox.run(['ansible-lint', '--nocolor'], {
    cwd: ANSIBLE_FOLDER,
    env: ansibleEnvironment(folder),
    allowFailure: true,
    timeoutMs: 120_000,
  });
  t.is(result.code, 0, `${result.stdout}${result.stderr}`);
  t.regex(`${result.stdout}${result.stderr}`, /Passed with production profile/);
});

test('role builds the topology, then changes nothing', async (t) => {
  const missing = await probeProgram('ansible-playbook');
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const folder = await scratchFolder(t);
  const unitRoot = join(folder, 'units');
  await mkdir(unitRoot);
  const configPath = join(folder, 'etc/algo-netns/config.yaml');

  const variables = {
    algo_netns_install_from: 'none',
    algo_netns_command: `${process.execPath} ${CLI_PATH}`,
    algo_netns_config_path: configPath,
    algo_netns_systemd_units: true,
    algo_netns_systemd_root: unitRoot,
    algo_netns_manage_services: false,
    // Algo's variables, as its config.cfg would set them on a host with IPv6.
    ipv6_support: true,
    local_service_ip: '172.16.0.53',
    local_service_ipv6: 'fd00::53',
    wireguard_network_ipv4: '10.49.0.0/16',
    wireguard_network_ipv6: '2001:db8:a160::/48',
  };
  const variablesFile = join(folder, 'variables.json');
  await writeFile(variablesFile, JSON.stringify(variables));
  const playbook = ['ansible-playbook', '-i', 'inventory.yml', 'playbook.yml', '-e', `@${variablesFile}`];
  const options = { cwd: ANSIBLE_FOLDER, env: ansibleEnvironment(folder), allowFailure: true, timeoutMs: PLAYBOOK_TIMEOUT_MS };

  const first = await sandbox.run(playbook, options);
  t.is(first.code, 0, `${first.stdout}${first.stderr}`);
  const firstRecap = playRecap(first);
  t.is(firstRecap.failed, 0);
  t.true(firstRecap.changed >= 3, `the first run changes the configuration, the units and the topology (changed=${firstRecap.changed})`);

  const config = parse(await readFile(configPath, 'utf8')) as {
    wireguard: { addresses: string[]; clientPools: string[] };
    strongswan: { clientPools: string[] };
    dns: { serviceAddresses: string[] };
  };
  t.deepEqual(config.wireguard.addresses, ['10.49.0.1/16', '2001:db8:a160::1/48']);
  t.deepEqual(config.wireguard.clientPools, ['10.49.0.0/16', '2001:db8:a160::/48']);
  t.deepEqual(config.strongswan.clientPools, ['10.48.0.0/16', '2001:db8:4160::/48']);
  t.deepEqual(config.dns.serviceAddresses, ['172.16.0.53/32', 'fd00::53/128']);

  const namespaces = await sandbox.ipJson<{ name: string }[]>(['netns', 'list']);
  t.deepEqual(namespaces.map((namespace) => namespace.name).sort(), ['dns-ns', 'strongswan-ns', 'wireguard-ns']);
  const dnsAddresses = await sandbox.ipJson<{ addr_info: { local: string }[] }[]>(['-n', 'dns-ns', 'address', 'show', 'dev', 'lo']);
  t.true(
    dnsAddresses.flatMap((link) => link.addr_info.map((address) => address.local)).includes('172.16.0.53'),
    'the service address from local_service_ip is on lo in dns-ns',
  );

  const units = await readdir(join(unitRoot, 'etc/systemd/system'));
  t.true(units.includes('algo-netns.service'));
  const mainUnit = await readFile(join(unitRoot, 'etc/systemd/system/algo-netns.service'), 'utf8');
  t.true(mainUnit.includes(`up --config ${configPath}`), 'the unit reads the file the role wrote');

  const second = await sandbox.run(playbook, options);
  t.is(second.code, 0, `${second.stdout}${second.stderr}`);
  const secondRecap = playRecap(second);
  t.is(secondRecap.changed, 0, `the second run changes nothing:\n${second.stdout}`);
  t.is(secondRecap.failed, 0);
});
