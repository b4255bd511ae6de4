/**
 * The handles `up` opens ahead on service namespaces, against real namespaces and relays: an
 * early handle is used only while its namespace still has the name, and none outlives the run.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { getLink } from '../src/ops/links.js';
import { createNamespace, deleteNamespace, NamespaceError, pidsInNamespace } from '../src/ops/netns.js';
import { NamespaceHandles } from '../src/setup/namespace-handles.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping namespace-handles.test.js: not inside the integration sandbox; run npm run test:integration');

const run = promisify(execFile);

/** Makes a namespace that is removed when the test ends, and returns its name. */
async function namespace(t: ExecutionContext, label: string): Promise<string> {
  const name = `handles-${label}-${randomBytes(3).toString('hex')}`;
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));
  return name;
}

/** Waits until some process runs inside `name`: the relay opened ahead has started. */
async function relayInside(name: string): Promise<number[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const pids = await pidsInNamespace(name);
    if (pids.length > 0) return pids;
    if (performance.now() > deadline) throw new Error(`no relay started inside ${name} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('open returns the early handle', async (t) => {
  const name = await namespace(t, 'kept');
  const handles = new NamespaceHandles();
  t.teardown(() => handles.closeAll());

  handles.openAhead([name]);
  const early = await relayInside(name);
  const handle = await handles.open(name);

  t.deepEqual(early, [handle.pid], 'the only process inside is the relay opened ahead');
  t.is(handles.get(name), handle);
  t.truthy(await getLink(handle, 'lo'));
});

test('remade namespace gets a new handle', async (t) => {
  const name = await namespace(t, 'remade');
  const handles = new NamespaceHandles();
  t.teardown(() => handles.closeAll());

  handles.openAhead([name]);
  const early = await relayInside(name);
  await deleteNamespace(name);
  await createNamespace(name);
  await run('ip', ['-n', name, 'link', 'add', 'fresh0', 'type', 'bridge']);

  const handle = await handles.open(name);
  t.truthy(await getLink(handle, 'fresh0'), 'the handle is inside the namespace that has the name now');
  t.false(early.includes(handle.pid));
  t.deepEqual(early.filter(isRunning), [], 'the early relay was closed');
});

test('closeAll closes unused early handles', async (t) => {
  const name = await namespace(t, 'unused');
  const handles = new NamespaceHandles();

  handles.openAhead([name]);
  const early = await relayInside(name);
  await handles.closeAll();

  t.deepEqual(early.filter(isRunning), []);
  t.deepEqual(await pidsInNamespace(name), []);
});

test('open of a missing namespace fails', async (t) => {
  const name = `handles-missing-${randomBytes(3).toString('hex')}`;
  const handles = new NamespaceHandles();
  t.teardown(() => handles.closeAll());

  handles.openAhead([name]);
  const error = await t.throwsAsync(handles.open(name), { instanceOf: NamespaceError });
  t.is(error?.reason, 'not-found');
});
