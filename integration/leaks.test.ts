/**
 * up and down in a loop stay flat: file descriptors, helper processes, mounts and namespace
 * files are the same after the last round as after the first.
 */
import { fileURLToPath } from 'node:url';
import anyTest, { type TestFn } from 'ava';
import { writeConfigFile } from './cli.js';
import type { LeakSample } from './leak-loop.js';
import { insideRunnerSandbox, sandboxFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping leaks.test.js: not inside the integration sandbox; run npm run test:integration');

// 500 rounds take about five minutes on two cores; ALGO_NETNS_LEAK_ROUNDS shortens a local run.
const ROUNDS = Number(process.env.ALGO_NETNS_LEAK_ROUNDS ?? '500');
const LOOP = fileURLToPath(new URL('./leak-loop.js', import.meta.url));

test(`up and down ${ROUNDS} times leak nothing`, async (t) => {
  t.timeout(15 * 60_000);
  const sandbox = await sandboxFor(t);
  const config = await writeConfigFile('algo-netns.yaml', 'wireguard:\n  enabled: false\n');

  const started = performance.now();
  const result = await sandbox.run([process.execPath, LOOP, String(ROUNDS), config], { timeoutMs: 15 * 60_000 });
  const samples = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LeakSample);
  const first = samples[0];
  const last = samples.at(-1);
  t.truthy(first);
  t.is(last?.round, ROUNDS);

  t.log(`${ROUNDS} rounds in ${Math.round((performance.now() - started) / 1000)} s`);
  for (const sample of samples) t.log(JSON.stringify(sample));
  t.is(last?.fds, first?.fds, 'open file descriptors');
  t.is(last?.children, 0, 'no helper process is left');
  t.is(last?.mounts, first?.mounts, 'mounts');
  t.is(last?.namespaceFiles, 0, 'no namespace file is left');
});
