import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { acquireLock } from '../../src/setup/lock.js';
import { emptyState, removeState, writeState } from '../../src/setup/state.js';
import { CREATED_MARKER } from '../../src/setup/state-directory.js';

async function scratch(t: ExecutionContext): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-state-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test('state folder created by up is removed', async (t) => {
  const folder = join(await scratch(t), 'algo-netns');

  await writeState(folder, emptyState());
  t.deepEqual((await readdir(folder)).sort(), [CREATED_MARKER, 'state.json']);
  await removeState(folder);

  t.false(await exists(folder));
});

test('existing empty state folder is kept', async (t) => {
  const folder = join(await scratch(t), 'shared');
  await mkdir(folder);

  await writeState(folder, emptyState());
  await removeState(folder);

  t.true(await exists(folder));
  t.deepEqual(await readdir(folder), []);
});

test('created state folder with other files is kept', async (t) => {
  const folder = join(await scratch(t), 'algo-netns');

  await writeState(folder, emptyState());
  await writeFile(join(folder, 'notes.txt'), 'operator file\n');
  await removeState(folder);

  t.deepEqual((await readdir(folder)).sort(), [CREATED_MARKER, 'notes.txt']);
});

test('lock removal keeps an existing folder', async (t) => {
  const folder = await scratch(t);

  const lock = await acquireLock(folder, 1, () => undefined);
  await lock.remove();
  await lock.release();

  t.true(await exists(folder));
  t.deepEqual(await readdir(folder), []);
});

test('lock removal removes a created folder', async (t) => {
  const folder = join(await scratch(t), 'algo-netns');

  const lock = await acquireLock(folder, 1, () => undefined);
  await writeState(folder, emptyState());
  await removeState(folder);
  t.true(await exists(folder), 'the lock file still keeps the folder');
  await lock.remove();
  await lock.release();

  t.false(await exists(folder));
});
