import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { checkCommand } from '../../src/cli/commands/check.js';
import type { HealthReport } from '../../src/setup/check.js';
import { prometheusText, writePrometheusFile } from '../../src/setup/check-prometheus.js';
import { defaultConfig } from '../../src/setup/config.js';

const HEALTHY: HealthReport = {
  ok: true,
  results: [{ check: 'namespace', target: 'dns-ns', ok: true, detail: 'present' }],
  handshakes: [{ peer: 'key"1', secondsAgo: 5 }],
};

function sink(): { text: string; write(chunk: string): void } {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
    },
  };
}

test('healthy report text', (t) => {
  const text = prometheusText(HEALTHY, 1_700_000_000.7);

  t.regex(text, /^algo_netns_check_ok\{check="namespace",target="dns-ns"\} 1$/m);
  t.regex(text, /^algo_netns_healthy 1$/m);
  t.regex(text, /^algo_netns_check_failed 0$/m);
  t.regex(text, /^algo_netns_check_timestamp_seconds 1700000000$/m);
  t.regex(text, /^algo_netns_wireguard_handshake_age_seconds\{peer="key\\"1"\} 5$/m);
});

test('failed run text', (t) => {
  const text = prometheusText(undefined, 1_700_000_000);

  t.regex(text, /^algo_netns_healthy 0$/m);
  t.regex(text, /^algo_netns_check_failed 1$/m);
  t.regex(text, /^algo_netns_check_timestamp_seconds 1700000000$/m);
  t.notRegex(text, /^algo_netns_check_ok\{/m);
});

test('every metric has HELP and TYPE', (t) => {
  const text = prometheusText(HEALTHY, 0);
  const names = new Set(text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => /^[a-z_]+/.exec(line)?.[0]));

  for (const name of names) {
    t.regex(text, new RegExp(`^# HELP ${name} `, 'm'), `${name} HELP`);
    t.regex(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name} TYPE`);
  }
});

test('prometheus file is replaced whole', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-prom-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, 'algo-netns.prom');
  await writeFile(path, 'algo_netns_healthy 1\n');

  await writePrometheusFile(path, 'new\n');

  t.is(await readFile(path, 'utf8'), 'new\n');
  t.deepEqual(await readdir(directory), ['algo-netns.prom'], 'no temporary file is left');
});

test('check that fails to run rewrites the file', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-prom-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const prometheus = join(directory, 'algo-netns.prom');
  await writeFile(prometheus, prometheusText(HEALTHY, 1));
  // An unreadable state file makes the check throw before it touches any namespace.
  const stateDirectory = join(directory, 'state');
  await mkdir(stateDirectory);
  const config = { ...defaultConfig(), stateDirectory };
  await writeFile(join(stateDirectory, 'state.json'), '{"version":1,"namesp');
  const started = Math.floor(Date.now() / 1000);

  const stdout = sink();
  const stderr = sink();
  const error = await t.throwsAsync(checkCommand.run({ config, source: 'test', streams: { stdout, stderr }, options: { prometheus }, positionals: [], verbose: false }));

  t.regex(error?.message ?? '', /state file .* is unreadable/);
  const text = await readFile(prometheus, 'utf8');
  t.regex(text, /^algo_netns_healthy 0$/m);
  t.regex(text, /^algo_netns_check_failed 1$/m);
  const timestamp = Number(/^algo_netns_check_timestamp_seconds (\d+)$/m.exec(text)?.[1]);
  t.true(timestamp >= started, `timestamp ${timestamp} is from this run`);
});
