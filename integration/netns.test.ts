/**
 * Named network namespaces against the real kernel, cross-checked with iproute2.
 *
 * Each test makes its own namespaces under the sandbox's private /run/netns and removes them
 * in its teardown.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import anyTest, { type TestFn } from 'ava';
import {
  createNamespace,
  deleteNamespace,
  listNamespaces,
  namespaceExists,
  NamespaceError,
  namespacePath,
  NETNS_RUN_DIR,
  openNamespace,
  pidsInNamespace,
  validateNamespaceName,
} from '../src/ops/netns.js';
import { runHelper } from '../src/ops/spawn.js';

const SKIP_REASON = 'not inside the integration sandbox; run npm run test:integration';
const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) {
  console.log(`Skipping ${import.meta.url.split('/').pop()}: ${SKIP_REASON}`);
}

/** Returns a namespace name that no other test uses. */
function uniqueName(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

/** Creates a namespace with createNamespace and deletes it when the test ends. */
async function makeNamespace(t: { teardown(fn: () => Promise<void>): void }, label: string): Promise<string> {
  const name = uniqueName(label);
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));
  return name;
}

/** Mount points in this process's mount table, from /proc/self/mountinfo (field 5, unescaped). */
async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

async function ipNetnsList(): Promise<string[]> {
  const { stdout } = await runHelper(['ip', '-j', 'netns', 'list']);
  // iproute2 6.1 prints nothing at all, not "[]", when there is no namespace.
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as Array<{ name: string }>).map((entry) => entry.name);
}

async function linkNamesIn(name: string): Promise<string[]> {
  const { stdout } = await runHelper(['ip', 'netns', 'exec', name, 'ip', '-j', 'link', 'show']);
  return (JSON.parse(stdout) as Array<{ ifname: string }>).map((link) => link.ifname).sort();
}

async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test('created namespace is seen by iproute2', async (t) => {
  const name = await makeNamespace(t, 'create');

  t.true((await ipNetnsList()).includes(name));
  t.deepEqual(await linkNamesIn(name), ['lo']);
  t.true(await namespaceExists(name));
  t.true((await listNamespaces()).includes(name));

  const [named, own] = await Promise.all([stat(namespacePath(name)), stat('/proc/self/ns/net')]);
  t.is(named.dev, own.dev, 'the file is an nsfs inode');
  t.not(named.ino, own.ino, 'the namespace is a new one');
});

test('changes through ip netns exec stay inside', async (t) => {
  const name = await makeNamespace(t, 'isolated');

  await runHelper(['ip', 'netns', 'exec', name, 'ip', 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);

  t.deepEqual(await linkNamesIn(name), ['lo', 'probe0', 'probe1']);
  const { stdout } = await runHelper(['ip', '-j', 'link', 'show']);
  const ownLinks = (JSON.parse(stdout) as Array<{ ifname: string }>).map((link) => link.ifname);
  t.false(ownLinks.includes('probe0'));
});

test('namespace made by ip netns add is listed', async (t) => {
  const name = uniqueName('iproute2');
  await runHelper(['ip', 'netns', 'add', name]);
  t.teardown(async () => {
    await runHelper(['ip', 'netns', 'delete', name]).catch(() => {});
  });

  t.true((await listNamespaces()).includes(name));
  t.true(await namespaceExists(name));
  t.deepEqual(await pidsInNamespace(name), []);
});

test('ip netns delete removes our namespace', async (t) => {
  const name = uniqueName('cross-delete');
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));

  await runHelper(['ip', 'netns', 'delete', name]);

  t.false(await namespaceExists(name));
  t.false((await listNamespaces()).includes(name));
});

test('deleted namespace leaves no mount or file', async (t) => {
  const name = await makeNamespace(t, 'delete');
  const path = namespacePath(name);
  t.true((await mountPoints()).includes(path), 'mounted before the delete');

  await deleteNamespace(name);

  t.false((await mountPoints()).includes(path));
  t.false(await fileExists(path));
  t.false((await ipNetnsList()).includes(name));
  t.false(await namespaceExists(name));
});

test('delete removes stacked mounts', async (t) => {
  const name = await makeNamespace(t, 'stacked');
  const other = await makeNamespace(t, 'stackedother');
  const path = namespacePath(name);
  await runHelper(['mount', '--bind', namespacePath(other), path]);
  t.is((await mountPoints()).filter((point) => point === path).length, 2);

  await deleteNamespace(name);

  t.false((await mountPoints()).includes(path));
  t.false(await fileExists(path));
  t.true(await namespaceExists(other));
});

test('deleting a missing namespace succeeds', async (t) => {
  const name = uniqueName('missing');

  await t.notThrowsAsync(deleteNamespace(name));
  await t.notThrowsAsync(deleteNamespace(name));
  t.false(await namespaceExists(name));
});

test('creating a namespace twice throws', async (t) => {
  const name = await makeNamespace(t, 'twice');

  const error = await t.throwsAsync(createNamespace(name), { instanceOf: NamespaceError });
  t.is(error.reason, 'exists');
  t.is(error.namespace, name);
  t.is(error.message, `Cannot create network namespace ${name}: it already exists`);
  t.true(await namespaceExists(name), 'the first namespace is untouched');
  t.deepEqual(await linkNamesIn(name), ['lo']);
});

test('leftover plain file is not a namespace', async (t) => {
  const name = uniqueName('leftover');
  const path = namespacePath(name);
  await mkdir(NETNS_RUN_DIR, { recursive: true });
  await writeFile(path, '');
  t.teardown(() => deleteNamespace(name));

  t.false(await namespaceExists(name));
  t.true((await listNamespaces()).includes(name), 'listed, as ip netns list does');

  const createError = await t.throwsAsync(createNamespace(name), { instanceOf: NamespaceError });
  t.is(createError.reason, 'exists');
  t.regex(createError.message, /exists but is not a namespace \(a leftover file/);

  const openError = await t.throwsAsync(openNamespace(name), { instanceOf: NamespaceError });
  t.is(openError.reason, 'not-found');
  t.regex(openError.message, /exists but nothing is mounted on it/);

  await deleteNamespace(name);
  t.false(await fileExists(path));
});

test('opened namespace is the named one', async (t) => {
  const name = await makeNamespace(t, 'open');

  const handle = await openNamespace(name);
  t.teardown(() => handle.close());

  const [opened, named] = await Promise.all([handle.stat(), stat(namespacePath(name))]);
  t.is(opened.ino, named.ino);
  t.is(opened.dev, named.dev);
});

test('opening a missing namespace throws', async (t) => {
  const name = uniqueName('absent');

  const error = await t.throwsAsync(openNamespace(name), { instanceOf: NamespaceError });
  t.is(error.reason, 'not-found');
  t.is(error.message, `Network namespace ${name} not found: ${NETNS_RUN_DIR}/${name} does not exist`);
});

test('processes inside a namespace are found', async (t) => {
  const name = await makeNamespace(t, 'pids');

  // nsenter execs sleep in place, so the spawned pid is the process inside.
  const child = spawn('nsenter', [`--net=${namespacePath(name)}`, '--', 'sleep', '30'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const pid = child.pid;
  if (pid === undefined) {
    t.fail('nsenter did not start');
    return;
  }

  let pids: number[] = [];
  for (let attempt = 0; attempt < 50 && !pids.includes(pid); attempt++) {
    // nsenter needs a moment to call setns() before exec.
    await new Promise((resolve) => setTimeout(resolve, 20));
    pids = await pidsInNamespace(name);
  }
  t.deepEqual(pids, [pid]);
  t.false((await pidsInNamespace(name)).includes(process.pid));

  child.kill('SIGKILL');
  await exited;
  t.deepEqual(await pidsInNamespace(name), []);
});

test('parallel creates mount /run/netns once', async (t) => {
  await makeNamespace(t, 'hidden');
  // Only the first creates race to make /run/netns a mount point, so they run in a child
  // with its own mount namespace and an empty tmpfs on /run. Its namespaces go with it.
  // The child's mount table still lists the /run/netns mount of this process, made above and
  // hidden under the new tmpfs. createNamespace must not take it for the visible one, and
  // the child counts only the mounts that the creates add.
  const netnsUrl = new URL('../src/ops/netns.js', import.meta.url).href;
  const script = `
    const { readFile, stat } = await import('node:fs/promises');
    const { createNamespace } = await import(${JSON.stringify(netnsUrl)});
    const countRunDirMounts = async () => (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\\n')
      .filter((line) => line.split(' ')[4] === '/run/netns').length;
    const names = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
    const hidden = await countRunDirMounts();
    await Promise.all(names.map((name) => createNamespace(name)));
    const runDirMounts = (await countRunDirMounts()) - hidden;
    const inodes = await Promise.all(names.map(async (name) => (await stat('/run/netns/' + name)).ino));
    console.log(JSON.stringify({ runDirMounts, distinctInodes: new Set(inodes).size }));
  `;
  const { stdout } = await runHelper([
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount -t tmpfs tmpfs /run && exec "$0" --input-type=module -e "$1"',
    process.execPath,
    script,
  ]);
  const result = JSON.parse(stdout) as { runDirMounts: number; distinctInodes: number };

  t.is(result.runDirMounts, 1, 'the flock keeps concurrent callers from stacking bind mounts');
  t.is(result.distinctInodes, 6, 'each name has its own namespace');
});

test('/run/netns is a shared mount point', async (t) => {
  await makeNamespace(t, 'shared');

  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const line = text.split('\n').filter((entry) => entry.split(' ')[4] === NETNS_RUN_DIR).at(-1) ?? '';
  t.regex(line, / shared:\d+ /);
});

test('invalid names are rejected', async (t) => {
  const invalid = ['', '.', '..', 'a/b', '/abs', 'nul\0byte', 'x'.repeat(256), 'é'.repeat(128)];
  for (const name of invalid) {
    const error = t.throws(() => validateNamespaceName(name), { instanceOf: NamespaceError }, JSON.stringify(name));
    t.is(error.reason, 'invalid-name');
    t.true(error.message.startsWith(`Invalid network namespace name ${JSON.stringify(name)}: expected`), error.message);
    await t.throwsAsync(createNamespace(name), { instanceOf: NamespaceError });
  }

  for (const name of ['x'.repeat(255), 'wireguard-ns', 'a.b', '...', 'é'.repeat(127)]) {
    t.notThrows(() => validateNamespaceName(name), name);
  }
});
