/**
 * `algo-netns check` on a healthy topology passes; then one piece at a time is broken and
 * the check must fail and name that piece.
 */
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { runCli, writeConfigFile } from './cli.js';
import { buildInternet } from './internet.js';
import { insideRunnerSandbox, probeProgram, sandboxFor, skipsFor, waitFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping check.test.js: not inside the integration sandbox; run npm run test:integration');

interface Report {
  ok: boolean;
  results: { check: string; target: string; ok: boolean; detail: string }[];
}

function failures(stdout: string): string[] {
  const report = JSON.parse(stdout) as Report;
  return report.results.filter((result) => !result.ok).map((result) => `${result.check} ${result.target}: ${result.detail}`);
}

test('check passes on a healthy topology and names each broken piece', async (t) => {
  const missing = await probeProgram('dnsmasq');
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  await buildInternet(sandbox);
  const config = await writeConfigFile('algo-netns.yaml', 'wireguard:\n  enabled: false\n');
  const prometheus = join(await mkdtemp(join(tmpdir(), 'algo-netns-prom-')), 'algo-netns.prom');
  t.is((await runCli(sandbox, ['up', '--config', config])).code, 0);

  // The resolver: dnsmasq in dns-ns on the service addresses, with no upstream. It replies
  // REFUSED, and any reply counts as the resolver responding.
  const startResolver = () =>
    sandbox.spawnDaemon(['ip', 'netns', 'exec', 'dns-ns', 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--no-resolv', '--bind-interfaces', '--interface=lo', '--listen-address=172.16.0.1', '--listen-address=fd00::1']);
  let resolver = startResolver();
  // charon stand-in: a copy of sleep named charon, so /proc/PID/comm reads "charon".
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-charon-'));
  await copyFile('/bin/sleep', join(folder, 'charon'));
  sandbox.spawnDaemon(['ip', 'netns', 'exec', 'strongswan-ns', join(folder, 'charon'), '600']);

  const runCheck = () => runCli(sandbox, ['check', '--json', '--prometheus', prometheus, '--config', config]);
  await waitFor('the resolver to answer', async () => (await runCheck()).code === 0, 10_000);
  const healthy = await runCheck();
  t.is(healthy.code, 0, healthy.stdout);
  t.deepEqual(failures(healthy.stdout), []);
  t.regex(await readFile(prometheus, 'utf8'), /^algo_netns_healthy 1$/m);
  const text = await runCli(sandbox, ['check', '--config', config]);
  t.regex(text.stdout, /check: healthy/);

  // A deleted route.
  await sandbox.run(['ip', '-n', 'strongswan-ns', 'route', 'del', 'default']);
  let broken = await runCheck();
  t.is(broken.code, 1);
  t.true(failures(broken.stdout).some((line) => line.includes('IPv4 default route in strongswan-ns')), failures(broken.stdout).join('\n'));
  t.regex(await readFile(prometheus, 'utf8'), /^algo_netns_healthy 0$/m);
  t.is((await runCli(sandbox, ['up', '--config', config])).code, 0);
  t.is((await runCheck()).code, 0, 'up repaired the route');

  // A stopped resolver.
  await resolver.stop();
  broken = await runCheck();
  t.is(broken.code, 1);
  t.true(failures(broken.stdout).some((line) => line.startsWith('dns-answers 172.16.0.1 from strongswan-ns')), failures(broken.stdout).join('\n'));
  t.true(failures(broken.stdout).some((line) => line.startsWith('daemon dns in dns-ns')), failures(broken.stdout).join('\n'));
  resolver = startResolver();
  await waitFor('the resolver to answer again', async () => (await runCheck()).code === 0, 10_000);

  // A daemon in the wrong namespace.
  const stray = sandbox.spawnDaemon([join(folder, 'charon'), '600']);
  broken = await runCheck();
  t.true(failures(broken.stdout).some((line) => line.includes('running outside strongswan-ns')), failures(broken.stdout).join('\n'));
  await stray.stop();

  // A link moved out of its namespace.
  await sandbox.run(['ip', '-n', 'dns-ns', 'link', 'set', 'uplink', 'netns', 'internet']);
  broken = await runCheck();
  t.is(broken.code, 1);
  t.true(failures(broken.stdout).some((line) => line.includes('link uplink in dns-ns')), failures(broken.stdout).join('\n'));

  // A deleted namespace.
  await sandbox.run(['ip', 'netns', 'delete', 'strongswan-ns']);
  broken = await runCheck();
  t.is(broken.code, 1);
  t.true(failures(broken.stdout).some((line) => line === 'namespace strongswan-ns: missing'), failures(broken.stdout).join('\n'));
});

test('check that fails to run still rewrites the Prometheus file', async (t) => {
  const sandbox = await sandboxFor(t);
  const prometheus = join(await mkdtemp(join(tmpdir(), 'algo-netns-prom-')), 'algo-netns.prom');
  // What an earlier healthy run left behind.
  await writeFile(prometheus, 'algo_netns_healthy 1\nalgo_netns_check_failed 0\n');
  // A truncated state file makes the check itself fail before it reads any namespace.
  await sandbox.runShell('mkdir -p /run/algo-netns && printf \'{"version":1,"namesp\' > /run/algo-netns/state.json');
  const started = Math.floor(Date.now() / 1000);

  const result = await runCli(sandbox, ['check', '--prometheus', prometheus]);

  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /algo-netns check failed: state file \/run\/algo-netns\/state\.json is unreadable/);
  const text = await readFile(prometheus, 'utf8');
  t.regex(text, /^algo_netns_healthy 0$/m);
  t.regex(text, /^algo_netns_check_failed 1$/m);
  const timestamp = Number(/^algo_netns_check_timestamp_seconds (\d+)$/m.exec(text)?.[1]);
  t.true(timestamp >= started, `the timestamp ${timestamp} is from this run`);
});
