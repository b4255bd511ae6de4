/**
 * Configuration input that used to crash the loader or slip through: alias cycles, deep
 * nesting, repeated JSON keys and state directories that are system folders.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import test from 'ava';

import { defaultConfig } from '../../src/setup/config.js';
import { firstDuplicateJsonKey, loadConfig, mergeConfig } from '../../src/setup/config-load.js';
import { validateConfig } from '../../src/setup/config-validate.js';
import { ConfigError } from '../../src/setup/errors.js';

/** Loads `text` from a file named `name` and returns the ConfigError thrown. */
async function loadError(name: string, text: string): Promise<{ error: ConfigError; path: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  const path = join(directory, name);
  try {
    await writeFile(path, text);
    const error = await loadConfig(path).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError for ${name}, got ${String(error)}`);
    return { error, path };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('YAML alias cycle is a config error', async (t) => {
  const { error, path } = await loadError('cycle.yaml', 'a: &a [*a]\n');

  t.is(error.exitCode, 2);
  t.is(error.file, path);
  t.true(error.message.includes(path), error.message);
  t.regex(error.message, /alias refers to a mapping or list that contains it/);
});

test('JSON nested 100000 deep is a config error', async (t) => {
  const depth = 100_000;
  const { error, path } = await loadError('deep.json', `${'['.repeat(depth)}${']'.repeat(depth)}`);

  t.is(error.exitCode, 2);
  t.true(error.message.includes(path), error.message);
  t.regex(error.message, /nest more than 64 levels deep/);
});

test('JSON mapping nested 100000 deep is a config error', async (t) => {
  const depth = 100_000;
  const { error } = await loadError('deep-mapping.json', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

  t.regex(error.message, /nest more than 64 levels deep/);
});

test('duplicate top-level JSON key is rejected', async (t) => {
  const { error, path } = await loadError('duplicate.json', '{"uplink":"eth0","uplink":"eth1"}');

  t.is(error.exitCode, 2);
  t.true(error.message.includes(path), error.message);
  t.regex(error.message, /duplicate key "uplink"/);
  t.is(error.line, 1);
  t.is(error.column, 18);
});

test('duplicate nested JSON key is rejected', async (t) => {
  const text = '{\n  "wireguard": {\n    "enabled": false,\n    "namespace": "wg",\n    "enabled": true\n  }\n}\n';
  const { error } = await loadError('nested.json', text);

  t.regex(error.message, /duplicate key "enabled"/);
  t.is(error.line, 5);
});

test('duplicate JSON key scan', (t) => {
  const cases: [string, string | undefined][] = [
    ['{"a":1,"a":2}', 'a'],
    ['{"a":{"b":1},"b":{"b":2}}', undefined],
    ['[{"a":1},{"a":2}]', undefined],
    ['{"a":[{"a":1}],"b":{"a":{"a":1}}}', undefined],
    ['{"a":"a","b":"a"}', undefined],
    ['{"a":["a","a"]}', undefined],
    ['{"x\\"y":1,"x\\"y":2}', 'x"y'],
    ['{"\\u0061":1,"a":2}', 'a'],
    ['{"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}}', 'e'],
    ['{"a":{},"a":{}}', 'a'],
    ['{"a":[],"b":[],"c":1}', undefined],
  ];
  for (const [text, key] of cases) {
    t.is(firstDuplicateJsonKey(text)?.key, key, text);
  }
});

test('stateDirectory rejects system folders', (t) => {
  for (const folder of ['/', '/etc', '/etc/', '/usr', '/var', '/run', '/tmp', '/home', '/root', '/var/lib', '/usr/../etc', '//']) {
    const error = t.throws(() => validateConfig(mergeConfig(defaultConfig(), { stateDirectory: folder })), { instanceOf: ConfigError }, folder);
    t.is(error?.problems[0]?.path, 'stateDirectory', folder);
    t.regex(error?.problems[0]?.reason ?? '', /is a system folder/, folder);
  }
});

test('stateDirectory rejects paths not in normal form', (t) => {
  for (const [folder, normal] of [
    ['/var/lib/algo-netns/', '/var/lib/algo-netns'],
    ['/run//algo-netns', '/run/algo-netns'],
    ['/run/./algo-netns', '/run/algo-netns'],
    ['/run/x/../algo-netns', '/run/algo-netns'],
  ] as const) {
    const error = t.throws(() => validateConfig(mergeConfig(defaultConfig(), { stateDirectory: folder })), { instanceOf: ConfigError }, folder);
    t.is(error?.problems[0]?.reason, `"${folder}" is not in normal form (write "${normal}")`);
  }
});

test('stateDirectory accepts subfolders', (t) => {
  for (const folder of ['/run/algo-netns', '/var/lib/algo-netns', '/etc/algo-netns/state', '/tmp/algo-netns-test']) {
    t.notThrows(() => validateConfig(mergeConfig(defaultConfig(), { stateDirectory: folder })), folder);
  }
});

test('stateDirectory must be absolute', (t) => {
  const error = t.throws(() => validateConfig(mergeConfig(defaultConfig(), { stateDirectory: 'run/algo-netns' })), { instanceOf: ConfigError });

  t.regex(error?.problems[0]?.reason ?? '', /is not an absolute path/);
});
