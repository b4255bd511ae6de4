import test from 'ava';
import type { Change } from '../../src/ops/change.js';
import type { NetnsHandle } from '../../src/ops/handle.js';
import { defaultConfig } from '../../src/setup/config.js';
import { RunContext } from '../../src/setup/run-context.js';
import { emptyState } from '../../src/setup/state.js';

// recordInOrder never touches the namespace, so a bare stand-in is enough.
const NO_NAMESPACE = {} as NetnsHandle;

function runContext(seen: Change[]): RunContext {
  return new RunContext(NO_NAMESPACE, defaultConfig(), emptyState(), { dryRun: true, onChange: (change) => seen.push(change) });
}

/** Resolves with `value` after `ms` milliseconds. */
function after<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

function failAfter(ms: number, error: Error): Promise<Change[]> {
  return new Promise((_, reject) => setTimeout(() => reject(error), ms));
}

test('recordInOrder keeps the given order', async (t) => {
  const seen: Change[] = [];
  const run = runContext(seen);

  await run.recordInOrder([after(30, ['first']), after(0, ['second', 'third']), after(10, [])]);

  t.deepEqual(run.changes, ['first', 'second', 'third']);
  t.deepEqual(seen, ['first', 'second', 'third']);
});

test('recordInOrder stops at first failure', async (t) => {
  const seen: Change[] = [];
  const run = runContext(seen);
  const early = new Error('failed first in time, second in order');
  const late = new Error('failed last in time, first in order');

  const error = await t.throwsAsync(run.recordInOrder([after(0, ['made']), failAfter(30, late), failAfter(0, early), after(0, ['after'])]));

  t.is(error, late);
  t.deepEqual(run.changes, ['made']);
});

test('recordInOrder waits for every operation', async (t) => {
  const run = runContext([]);
  let finished = 0;
  const count = <T>(promise: Promise<T>): Promise<T> => promise.then((value) => (finished++, value));

  await t.throwsAsync(run.recordInOrder([failAfter(0, new Error('fails at once')), count(after(30, ['slow']))]));

  t.is(finished, 1, 'the slow operation had finished when the error came');
});
