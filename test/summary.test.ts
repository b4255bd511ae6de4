import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

// This file runs as dist/test/summary.test.js; the script is not compiled.
const COUNT_TAP = fileURLToPath(new URL('../../scripts/count-tap.mjs', import.meta.url));

function countTap(log: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [COUNT_TAP], { input: log, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Builds TAP as AVA prints it: a version line, the result lines, the plan and, unless `fail` is
 * null, AVA's summary comments. AVA's `# fail` adds up failed tests, crashes, tests that never ran
 * and todos.
 */
function tapStream(results: string[], plan: number, fail: number | null = 0): string {
  const summary = fail === null ? [] : [`# tests ${plan}`, '# pass 0', `# fail ${fail}`];
  return ['TAP version 13', ...results, '', `1..${plan}`, ...summary, ''].join('\n');
}

test('count-tap counts each outcome', (t) => {
  const log = tapStream([
    'ok 1 - codec › decodes a link',
    'ok 2 - codec › decodes an address',
    'not ok 3 - codec › rejects a short header',
    '  ---',
    '    name: AssertionError',
    '  ...',
    'ok 4 - kernel wireguard › creates wg0 # SKIP',
    'not ok 5 - checks › reports conntrack # TODO',
  ], 5, 2);

  const result = countTap(log);

  t.is(result.stdout, '2 passed, 1 failed, 2 skipped\n');
  t.is(result.status, 1);
});

test('count-tap sums several streams', (t) => {
  const unit = tapStream(['ok 1 - a', 'ok 2 - b'], 2);
  const integration = tapStream(['ok 1 - c', 'ok 2 - d # skip', 'ok 3 - e'], 3);
  const log = `> algo-netns@0.1.0 test:unit\n${unit}\n> algo-netns@0.1.0 test:integration\n${integration}`;

  const result = countTap(log);

  t.is(result.stdout, '4 passed, 0 failed, 1 skipped\n');
  t.is(result.status, 0);
});

test('count-tap ignores lines that only look alike', (t) => {
  const log = tapStream([
    'ok 1 - real',
    '#   ok 2 - a t.log line',
    '    ok 3 - indented output',
    'okay 4 - prose',
    'ok - no number',
  ], 1);

  t.is(countTap(log).stdout, '1 passed, 0 failed, 0 skipped\n');
});

test('count-tap fails tests that never ran', (t) => {
  // A worker crashed after one test: AVA prints the crash as a result line and counts the crash
  // and the three tests that never ran in its `# fail` comment.
  const log = tapStream(['ok 1 - a', 'not ok 2 - dist/test/x.test.js exited with a non-zero exit code: 1'], 4, 4);

  const result = countTap(log);

  t.is(result.stdout, '1 passed, 4 failed, 0 skipped\n');
  t.regex(result.stderr, /3 failures had no result line/);
  t.is(result.status, 1);
});

test('count-tap fails results missing from plan', (t) => {
  const result = countTap(tapStream(['ok 1 - only one'], 3, null));

  t.is(result.stdout, '1 passed, 2 failed, 0 skipped\n');
  t.is(result.status, 1);
});

test('count-tap rejects a log without tests', (t) => {
  const result = countTap('> tsc -p tsconfig.json\nerror TS2307: Cannot find module\n');

  t.is(result.stdout, '0 passed, 0 failed, 0 skipped\n');
  t.is(result.status, 1);
});

test('count-tap reads a log file', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'count-tap-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const log = join(folder, 'test.log');
  writeFileSync(log, tapStream(['ok 1 - a', 'ok 2 - b # SKIP'], 2));

  const result = spawnSync(process.execPath, [COUNT_TAP, log], { encoding: 'utf8' });

  t.is(result.stdout, '1 passed, 0 failed, 1 skipped\n');
  t.is(result.status, 0);
});
