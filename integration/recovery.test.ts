/**
 * Safe to interrupt, safe to run twice, safe beside other objects: `up` killed after each of
 * its changes, concurrent runs, plans that match what `up` does, objects that are not ours,
 * and the rollback of a failed run.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { runCli, writeConfigFile } from './cli.js';
import { hostState } from './host-state.js';
import { buildInternet } from './internet.js';
import { insideRunnerSandbox, Sandbox, sandboxFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping recovery.test.js: not inside the integration sandbox; run npm run test:integration');

// WireGuard is off so that the plan does not depend on a kernel module these machines lack;
// the end-to-end test covers the adopted wireguard-go interface.
const CONFIG = 'wireguard:\n  enabled: false\n';

async function freshHost(t: ExecutionContext): Promise<{ sandbox: Sandbox; config: string; pristine: string }> {
  const sandbox = await sandboxFor(t);
  await buildInternet(sandbox);
  const config = await writeConfigFile('algo-netns.yaml', CONFIG);
  return { sandbox, config, pristine: await hostState(sandbox) };
}

function changesIn(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('+ '))
    .map((line) => line.slice(2));
}

test('plan lists exactly the changes up makes', async (t) => {
  const { sandbox, config } = await freshHost(t);

  const plan = await runCli(sandbox, ['plan', '--json', '--config', config]);
  t.is(plan.code, 0, plan.stderr);
  const planned = (JSON.parse(plan.stdout) as { changes: string[] }).changes;
  t.true(planned.length > 20, `the plan has ${planned.length} changes`);

  const dryRun = await runCli(sandbox, ['up', '--dry-run', '--config', config]);
  t.deepEqual(changesIn(dryRun.stdout), planned, 'up --dry-run prints the same list');

  const applied = await runCli(sandbox, ['up', '--config', config]);
  t.is(applied.code, 0, applied.stderr);
  t.deepEqual(changesIn(applied.stdout), planned, 'up made exactly the planned changes, in order');

  const after = await runCli(sandbox, ['plan', '--json', '--config', config]);
  t.deepEqual((JSON.parse(after.stdout) as { changes: string[] }).changes, [], 'nothing is left to plan');
});

// The kill points are split over several tests, which AVA runs at the same time.
const KILL_GROUPS = 4;

for (let group = 0; group < KILL_GROUPS; group++) {
  test(`up killed after change ${group + 1}, ${group + 1 + KILL_GROUPS}, ... is recovered`, async (t) => {
    const { sandbox, config, pristine } = await freshHost(t);

    const clean = await runCli(sandbox, ['up', '--config', config]);
    t.is(clean.code, 0, clean.stderr);
    const steps = changesIn(clean.stdout).length;
    const cleanState = await hostState(sandbox);
    t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
    t.is(await hostState(sandbox), pristine, 'a clean down restores the pristine host');

    const killPoints: number[] = [];
    for (let step = group + 1; step <= steps; step += KILL_GROUPS) {
      killPoints.push(step);
      const killed = await runCli(sandbox, ['up', '--config', config], { env: { ALGO_NETNS_TEST_KILL_AFTER: String(step) } });
      t.is(killed.signal, 'SIGKILL', `up was killed after change ${step}`);

      // Every third kill point is finished by up first, then removed by down.
      if (step % 3 === 0) {
        const resumed = await runCli(sandbox, ['up', '--config', config]);
        t.is(resumed.code, 0, `up after a kill at change ${step}: ${resumed.stderr}`);
        t.is(await hostState(sandbox), cleanState, `up after a kill at change ${step} reaches the clean state`);
      }

      const removed = await runCli(sandbox, ['down', '--config', config]);
      t.is(removed.code, 0, `down after a kill at change ${step}: ${removed.stderr}`);
      t.is(await hostState(sandbox), pristine, `down after a kill at change ${step} leaves nothing behind`);

      const fresh = await runCli(sandbox, ['up', '--config', config]);
      t.is(fresh.code, 0, fresh.stderr);
      t.is(await hostState(sandbox), cleanState, `a fresh up after a kill at change ${step} reaches the clean state`);
      t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
    }
    t.log(`killed up after changes ${killPoints.join(', ')} of ${steps}`);
  });
}

test('concurrent runs never interleave', async (t) => {
  const { sandbox, config, pristine } = await freshHost(t);
  const clean = await runCli(sandbox, ['up', '--config', config]);
  t.is(clean.code, 0);
  const cleanState = await hostState(sandbox);
  t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);

  const [first, second] = await Promise.all([runCli(sandbox, ['up', '--config', config]), runCli(sandbox, ['up', '--config', config])]);
  t.is(first.code, 0, first.stderr);
  t.is(second.code, 0, second.stderr);
  t.regex(`${first.stdout}${second.stdout}`, /no change/, 'the second up found the topology built');
  t.is(await hostState(sandbox), cleanState);

  const [upAgain, downNow] = await Promise.all([runCli(sandbox, ['up', '--config', config]), runCli(sandbox, ['down', '--config', config])]);
  t.is(upAgain.code, 0, upAgain.stderr);
  t.is(downNow.code, 0, downNow.stderr);
  const state = await hostState(sandbox);
  t.true(state === cleanState || state === pristine, 'the host is either fully up or fully down');

  t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
  t.is(await hostState(sandbox), pristine);

  // The shell locks fd 9 and then becomes sleep, which keeps the lock under the tracked pid.
  const held = sandbox.spawnDaemon(['sh', '-c', 'mkdir -p /run/algo-netns && exec 9>>/run/algo-netns/lock && flock 9 && exec sleep 30']);
  t.teardown(() => held.stop());
  await new Promise((resolve) => setTimeout(resolve, 300));
  const blocked = await runCli(sandbox, ['up', '--lock-timeout', '1', '--config', config]);
  t.is(blocked.code, 1);
  t.regex(blocked.stderr, /another algo-netns run .* still holds/);
  t.is(await hostState(sandbox), pristine, 'a run that could not take the lock changed nothing');
});

test('objects that are not ours are refused, kept by down, and taken over with --adopt', async (t) => {
  const { sandbox, config } = await freshHost(t);
  await sandbox.run(['ip', 'netns', 'add', 'strongswan-ns']);
  const before = await hostState(sandbox);

  const refused = await runCli(sandbox, ['up', '--config', config]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /namespace strongswan-ns already exists and was not created by algo-netns/);
  t.regex(refused.stderr, /rolled back/);
  t.is(await hostState(sandbox), before, 'the failed up was rolled back completely');

  t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
  t.is(await hostState(sandbox), before, 'down left the foreign namespace alone');

  const adopted = await runCli(sandbox, ['up', '--adopt', '--config', config]);
  t.is(adopted.code, 0, adopted.stderr);
  t.regex(adopted.stdout, /adopt namespace strongswan-ns/);
  t.is((await runCli(sandbox, ['status', '--config', config])).code, 0);
});

test('a failure midway rolls back what the run made', async (t) => {
  const { sandbox, config } = await freshHost(t);
  // dns-ns is built last; a foreign link with its root-side name makes that step fail.
  await sandbox.runShell('ip link add ve-dns type veth peer name ve-dns-peer');
  const before = await hostState(sandbox);

  const failed = await runCli(sandbox, ['up', '--config', config]);
  t.is(failed.code, 1);
  t.regex(failed.stderr, /link ve-dns already exists in the root namespace and was not created by algo-netns/);
  t.regex(failed.stdout, /create namespace wireguard-ns|create namespace strongswan-ns/, 'the run had made changes before it failed');
  t.is(await hostState(sandbox), before, 'everything the run made is gone, and the foreign link is still there');

  const kept = await runCli(sandbox, ['up', '--no-rollback', '--config', config]);
  t.is(kept.code, 1);
  t.regex(kept.stderr, /kept/);
  t.not(await hostState(sandbox), before, 'with --no-rollback the changes stay');
  t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
  t.is(await hostState(sandbox), before, 'down removes them and keeps the foreign link');
});

test('a failed repair run undoes its changes', async (t) => {
  const { sandbox, config } = await freshHost(t);
  const first = await runCli(sandbox, ['up', '--config', config]);
  t.is(first.code, 0, first.stderr);

  // The repair run adds back a route of strongswan-ns, then fails at dns-ns, which is built last.
  await sandbox.runShell('ip route del 10.48.0.0/16 && ip link del ve-dns && ip link add ve-dns type bridge');
  const before = await hostState(sandbox);

  const failed = await runCli(sandbox, ['up', '--config', config]);
  t.is(failed.code, 1);
  t.regex(failed.stdout, /\+ add route 10\.48\.0\.0\/16 /, 'the run made a change before it failed');
  t.regex(failed.stderr, /its changes were rolled back$/m);
  t.notRegex(failed.stderr, /rolling back left problems/);
  t.is(await hostState(sandbox), before, 'the route that the run added is gone again');
});

test('collisions with the host are refused before anything changes', async (t) => {
  const { sandbox, config } = await freshHost(t);

  const cases: [string, string, RegExp][] = [
    ['ip addr add 10.47.255.6/24 dev eth0', 'ip addr del 10.47.255.6/24 dev eth0', /address 10\.47\.255\.6\/24 on eth0 .* collides with strongswan\.transitIPv4/],
    ['ip addr add 172.16.0.1/32 dev lo', 'ip addr del 172.16.0.1/32 dev lo', /address 172\.16\.0\.1\/32 on lo .* collides with dns\.serviceAddresses/],
  ];
  for (const [add, remove, expected] of cases) {
    await sandbox.runShell(add);
    const before = await hostState(sandbox);
    const result = await runCli(sandbox, ['up', '--config', config]);
    t.is(result.code, 1, add);
    t.regex(result.stderr, expected);
    t.is(await hostState(sandbox), before, `${add}: nothing changed`);
    await sandbox.runShell(remove);
  }

  const uplink = await writeConfigFile('uplink.yaml', 'wireguard:\n  adoptInterface: eth0\n');
  const before = await hostState(sandbox);
  const adopted = await runCli(sandbox, ['up', '--config', uplink]);
  t.is(adopted.code, 1);
  t.regex(adopted.stderr, /adoptInterface is eth0, the uplink/);
  t.is(await hostState(sandbox), before, 'the uplink stayed where it was');

  const bridge = await writeConfigFile('bridge.yaml', 'wireguard:\n  adoptInterface: br9\n');
  await sandbox.runShell('ip link add br9 type bridge');
  const notTun = await runCli(sandbox, ['up', '--config', bridge]);
  t.is(notTun.code, 1);
  t.regex(notTun.stderr, /br9, which is a bridge, not a WireGuard or TUN interface/);
});

test('down leaves no lock file, and an unreadable state file has a way out', async (t) => {
  const { sandbox, config, pristine } = await freshHost(t);
  const forwarding = (await sandbox.run(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])).stdout.trim().split('\n');
  t.is((await runCli(sandbox, ['up', '--config', config])).code, 0);
  t.is((await runCli(sandbox, ['down', '--config', config])).code, 0);
  t.is((await sandbox.runShell('ls -A /run/algo-netns 2>&1 || true')).stdout.trim(), 'ls: cannot access \'/run/algo-netns\': No such file or directory');

  t.is((await runCli(sandbox, ['up', '--config', config])).code, 0);
  await sandbox.runShell('printf \'{"version":1,"namesp\' > /run/algo-netns/state.json');
  for (const command of ['up', 'down', 'status']) {
    const result = await runCli(sandbox, [command, '--config', config]);
    t.is(result.code, 1, command);
    t.regex(result.stderr, /state file \/run\/algo-netns\/state\.json is unreadable .*"algo-netns down --adopt"/, command);
  }

  await sandbox.runShell('mv /run/algo-netns/state.json /run/algo-netns-state.json.broken');
  const cleaned = await runCli(sandbox, ['down', '--adopt', '--config', config]);
  t.is(cleaned.code, 0, cleaned.stderr);
  await sandbox.runShell('rm /run/algo-netns-state.json.broken');
  // Forwarding stays on: without the state file the earlier values are unknown.
  await sandbox.run(['sysctl', '-qw', `net.ipv4.ip_forward=${forwarding[0]}`, `net.ipv6.conf.all.forwarding=${forwarding[1]}`]);
  t.is(await hostState(sandbox), pristine);
});
