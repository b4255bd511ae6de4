import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { findProgram } from '../../src/ops/programs.js';

test('findProgram ignores commands of the same name in PATH', async (t) => {
  // npm run puts node_modules/.bin first in PATH, where @vercel/nft installs a command "nft".
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-path-'));
  await writeFile(join(folder, 'sh'), '#!/bin/sh\necho impostor\n');
  await chmod(join(folder, 'sh'), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${folder}:${saved ?? ''}`;
  t.teardown(() => {
    process.env.PATH = saved;
  });

  const found = await findProgram('sh');

  t.not(found, join(folder, 'sh'));
  t.regex(found ?? '', /^\/(usr\/)?(local\/)?s?bin\/sh$/);
});

test('findProgram returns null for a program that is nowhere', async (t) => {
  t.is(await findProgram('algo-netns-no-such-program'), null);
});

test('findProgram keeps a path as it is', async (t) => {
  t.is(await findProgram('/usr/bin/env'), '/usr/bin/env');
});
