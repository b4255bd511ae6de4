/**
 * The command's contract with operators: help, exit codes, and that bad input or a missing
 * privilege changes nothing on the host.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import anyTest, { type TestFn } from 'ava';
import { parse } from 'yaml';
import { CLI_PATH, NOBODY, probeCommandAsNobody, runCli, writeConfigFile } from './cli.js';
import { insideRunnerSandbox, Sandbox, sandboxFor, skipsFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping cli.test.js: not inside the integration sandbox; run npm run test:integration');

// What the host looks like to iproute2, plus the namespace folder.
async function hostSnapshot(sandbox: Sandbox): Promise<string> {
  const { stdout } = await sandbox.runShell('ip -d address show; ip route show table all; ip -6 route show table all; ip rule; ip -6 rule; ls -la /run/netns /run/algo-netns 2>&1; true');
  return stdout;
}

test('help answers for every command', async (t) => {
  const sandbox = await sandboxFor(t);

  const main = await runCli(sandbox, ['--help']);
  t.is(main.code, 0);
  for (const command of ['up', 'down', 'status', 'config']) {
    t.regex(main.stdout, new RegExp(`\\b${command}\\b`), `the main help lists ${command}`);
    const help = await runCli(sandbox, [command, '--help']);
    t.is(help.code, 0, `${command} --help exits 0`);
    t.regex(help.stdout, new RegExp(`Usage: algo-netns ${command}`), `${command} --help shows its usage`);
  }
});

test('bad usage exits 2 and names the problem', async (t) => {
  const sandbox = await sandboxFor(t);

  const unknown = await runCli(sandbox, ['upp']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command "upp"/);

  const option = await runCli(sandbox, ['up', '--colour']);
  t.is(option.code, 2);
  t.regex(option.stderr, /--colour/);

  const none = await runCli(sandbox, []);
  t.is(none.code, 2);
});

test('a bad ALGO_NETNS_RELAY exits 2 before up changes anything', async (t) => {
  const sandbox = await sandboxFor(t);
  const before = await hostSnapshot(sandbox);

  const result = await sandbox.run(['/usr/bin/env', 'ALGO_NETNS_RELAY=python', process.execPath, CLI_PATH, 'up'], { allowFailure: true });

  t.is(result.code, 2);
  t.regex(result.stderr, /Invalid relay "python"/);
  t.is(await hostSnapshot(sandbox), before, 'the host is untouched');
});

test('invalid configurations exit 2 and change nothing', async (t) => {
  const sandbox = await sandboxFor(t);
  const before = await hostSnapshot(sandbox);

  const cases: [string, string, RegExp][] = [
    ['unknown key', 'wireguard:\n  interfaces: wg0\n', /wireguard\.interfaces/],
    ['bad prefix', 'wireguard:\n  transitIPv4: 10.47.255.0/33\n', /wireguard\.transitIPv4/],
    ['long interface name', 'dns:\n  hostInterface: averyveryverylongname\n', /dns\.hostInterface/],
    ['namespace with a slash', 'strongswan:\n  namespace: ../etc\n', /strongswan\.namespace/],
    ['overlapping pools', 'strongswan:\n  clientPools: [10.49.0.0/16]\n', /clientPools/],
    ['malformed YAML', 'wireguard: [\n', /algo-netns\.yaml/],
  ];
  for (const [label, text, expected] of cases) {
    const path = await writeConfigFile('algo-netns.yaml', text);
    for (const command of ['up', 'down', 'status']) {
      const result = await runCli(sandbox, [command, '--config', path]);
      t.is(result.code, 2, `${label}: ${command} exits 2`);
      t.regex(result.stderr, expected, `${label}: ${command} names the problem`);
    }
  }

  const missing = await runCli(sandbox, ['up', '--config', '/nonexistent/algo-netns.yaml']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /\/nonexistent\/algo-netns\.yaml/);

  t.is(await hostSnapshot(sandbox), before, 'the host is untouched');
});

test('every configuration of the invalid corpus exits 2 and changes nothing', async (t) => {
  const sandbox = await sandboxFor(t);
  const before = await hostSnapshot(sandbox);

  const corpusPath = fileURLToPath(new URL('../../test/fixtures/config/invalid-configs.yaml', import.meta.url));
  const corpus = parse(await readFile(corpusPath, 'utf8')) as { name: string; overrides: unknown; problems: { path: string }[] }[];
  t.true(corpus.length >= 30, `the corpus has ${corpus.length} configurations`);

  for (const entry of corpus) {
    // JSON keeps keys such as __proto__ as data, as the YAML corpus does.
    const path = await writeConfigFile('algo-netns.json', JSON.stringify(entry.overrides));
    const result = await runCli(sandbox, ['up', '--config', path]);
    t.is(result.code, 2, `${entry.name}: exit code`);
    for (const problem of entry.problems) t.true(result.stderr.includes(problem.path), `${entry.name}: the message names ${problem.path}`);
  }
  t.is(await hostSnapshot(sandbox), before, 'the host is untouched');
});

test('without root the command exits 1 and changes nothing', async (t) => {
  const sandbox = await sandboxFor(t);
  if (skipsFor(t, await probeCommandAsNobody(sandbox))) return;
  const before = await hostSnapshot(sandbox);

  for (const command of ['up', 'down', 'status']) {
    const result = await sandbox.run([...NOBODY, process.execPath, CLI_PATH, command], {
      allowFailure: true,
    });
    t.is(result.code, 1, `${command} exits 1`);
    t.regex(result.stderr, /needs root/, `${command} says it needs root`);
  }
  t.is(await hostSnapshot(sandbox), before, 'the host is untouched');
});

test('config prints the defaults with the file over them', async (t) => {
  const sandbox = await sandboxFor(t);

  const path = await writeConfigFile('algo-netns.json', JSON.stringify({ dns: { serviceAddresses: ['172.16.0.53/32'] } }));
  const result = await runCli(sandbox, ['config', '--json', '--config', path]);
  t.is(result.code, 0, result.stderr);
  const config = JSON.parse(result.stdout) as { dns: { serviceAddresses: string[]; namespace: string }; wireguard: { namespace: string } };
  t.deepEqual(config.dns.serviceAddresses, ['172.16.0.53/32']);
  t.is(config.dns.namespace, 'dns-ns');
  t.is(config.wireguard.namespace, 'wireguard-ns');
});

test('configurations that used to crash the loader exit 2 and change nothing', async (t) => {
  const sandbox = await sandboxFor(t);
  const before = await hostSnapshot(sandbox);
  const depth = 100_000;

  const cases: [string, string, RegExp][] = [
    ['algo-netns.yaml', 'a: &a [*a]\n', /alias refers to a mapping or list that contains it/],
    ['algo-netns.json', `${'['.repeat(depth)}${']'.repeat(depth)}`, /nest more than 64 levels deep/],
    ['algo-netns.json', '{"uplink":"eth0","uplink":"eth1"}', /duplicate key "uplink"/],
    ['algo-netns.json', '{"strongswan":{"enabled":true,"enabled":false}}', /duplicate key "enabled"/],
    // /run is a system folder too, and the sandbox's own tmpfs, so a regression writes nothing on the host.
    ['algo-netns.yaml', 'stateDirectory: /run\n', /stateDirectory: "\/run" is a system folder/],
  ];
  for (const [name, text, expected] of cases) {
    const path = await writeConfigFile(name, text);
    for (const command of ['up', 'down', 'check']) {
      const result = await runCli(sandbox, [command, '--config', path]);
      t.is(result.code, 2, `${expected.source}: ${command} exits 2`);
      t.regex(result.stderr, expected, `${expected.source}: ${command} names the problem`);
      t.true(result.stderr.includes(path), `${expected.source}: ${command} names the file`);
    }
  }

  const { stdout } = await sandbox.runShell('ls -d /run/lock /run/state.json 2>&1; true');
  t.notRegex(stdout, /^\/run\/(lock|state\.json)$/m, 'no lock or state file was written to /run');
  t.is(await hostSnapshot(sandbox), before, 'the host is untouched');
});
