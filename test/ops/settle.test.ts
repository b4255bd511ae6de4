import test from 'ava';
import { settle, unwrap } from '../../src/ops/settle.js';

test('settle holds a value', async (t) => {
  t.deepEqual(await settle(Promise.resolve(7)), { ok: true, value: 7 });
});

test('settle holds an error without rejecting', async (t) => {
  const error = new Error('read failed');
  t.deepEqual(await settle(Promise.reject(error)), { ok: false, error });
});

test('unwrap returns the value', (t) => {
  t.is(unwrap({ ok: true, value: 'x' }), 'x');
});

test('unwrap throws the held error', (t) => {
  const error = new Error('read failed');
  t.is(t.throws(() => unwrap({ ok: false, error })), error);
});

test('unread settle leaves no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', listener);
  t.teardown(() => process.off('unhandledRejection', listener));

  void settle(Promise.reject(new Error('ignored')));
  await new Promise((resolve) => setTimeout(resolve, 20));

  t.deepEqual(unhandled, []);
});
