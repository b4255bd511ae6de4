import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import test, { type ExecutionContext } from 'ava';
import { parse } from 'yaml';

import { defaultConfig, type TopologyConfig } from '../../src/setup/config.js';
import { DEFAULT_SOURCE, formatConfig, loadConfig, mergeConfig } from '../../src/setup/config-load.js';
import { validateConfig } from '../../src/setup/config-validate.js';
import { ConfigError, formatProblem } from '../../src/setup/errors.js';

// Tests run from dist/test/setup; the fixtures stay in the source tree.
const fixtures = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url));

function fixture(name: string): string {
  return join(fixtures, name);
}

/** Validates defaults with `overrides` merged over them and returns the ConfigError thrown. */
function validationError(t: ExecutionContext, overrides: unknown): ConfigError {
  const error = t.throws(() => validateConfig(mergeConfig(defaultConfig(), overrides)));

  if (!(error instanceof ConfigError)) {
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  }

  return error;
}

test('defaults validate', (t) => {
  t.deepEqual(validateConfig(defaultConfig()), defaultConfig());
});

test('loadConfig without a path returns defaults', async (t) => {
  const loaded = await loadConfig();

  t.is(loaded.source, DEFAULT_SOURCE);
  t.deepEqual(loaded.config, defaultConfig());
});

test('partial YAML overrides only what it names', async (t) => {
  const path = fixture('partial.yaml');
  const loaded = await loadConfig(path);

  const expected = defaultConfig();
  expected.uplink = 'ens3';
  expected.rulePriority = 20000;
  expected.wireguard.namespace = 'wg-isolated';
  expected.wireguard.clientPools = ['10.60.0.0/16'];
  expected.wireguard.addresses = ['10.60.0.1/16'];
  expected.dns.enabled = false;

  t.is(loaded.source, path);
  t.deepEqual(loaded.config, expected);
});

test('partial JSON overrides only what it names', async (t) => {
  const loaded = await loadConfig(fixture('partial.json'));

  const expected = defaultConfig();
  expected.stateDirectory = '/var/lib/algo-netns';
  expected.routeProtocol = 200;
  expected.strongswan.hostInterface = 've-strongswan';
  expected.strongswan.transitIPv6 = 'fd47:255:0:1::/64';

  t.deepEqual(loaded.config, expected);
});

test('comment-only YAML keeps defaults', async (t) => {
  const loaded = await loadConfig(fixture('comments-only.yaml'));

  t.deepEqual(loaded.config, defaultConfig());
});

test('JSON with a byte order mark loads', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, 'bom.json');
  await writeFile(path, '\uFEFF{ "uplink": "eth1" }\n');

  const loaded = await loadConfig(path);

  t.is(loaded.config.uplink, 'eth1');
});

test('extension .JSON is read as JSON', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, 'upper.JSON');
  // A YAML comment is a syntax error in JSON, so this loads only if read as YAML.
  await writeFile(path, '# comment\nuplink: eth1\n');

  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.regex(error?.message ?? '', /^invalid JSON in .*upper\.JSON, line 1, column 1: /);
});

test('malformed YAML names file and line', async (t) => {
  const path = fixture('malformed.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.file, path);
  t.is(error?.line, 5);
  t.is(error?.exitCode, 2);
  t.true(error?.message.startsWith(`invalid YAML in ${path}, line 5, column 1: `), error?.message);
});

test('malformed JSON names file and line', async (t) => {
  const path = fixture('malformed.json');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.file, path);
  t.is(error?.line, 5);
  t.is(error?.column, 3);
  t.true(error?.message.startsWith(`invalid JSON in ${path}, line 5, column 3: `), error?.message);
});

// JSON syntax errors and the 1-based line and column of the first bad character.
const jsonSyntaxErrors: ReadonlyArray<[string, string, number, number]> = [
  ['unquoted key', '{\n  uplink: "eth0"\n}', 2, 3],
  ['single quotes', "{ 'uplink': 'eth0' }", 1, 3],
  ['missing comma', '{\n  "a": 1\n  "b": 2\n}', 3, 3],
  ['unclosed object', '{\n  "a": [1, 2]\n', 3, 1],
  ['bad literal', '{ "a": tru }', 1, 8],
  ['raw newline in string', '{ "a": "x\ny" }', 1, 10],
  ['bad escape', '{ "a": "\\q" }', 1, 9],
  ['leading zero', '{ "a": 010 }', 1, 9],
  ['text after the value', '{}\n{}', 2, 1],
  ['empty file', '', 1, 1],
];

for (const [name, text, line, column] of jsonSyntaxErrors) {
  test(`JSON syntax error: ${name}`, async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
    t.teardown(() => rm(directory, { recursive: true, force: true }));
    const path = join(directory, 'config.json');
    await writeFile(path, text);

    const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

    t.is(error?.line, line);
    t.is(error?.column, column);
    t.true(error?.message.includes(`${path}, line ${line}, column ${column}`), error?.message);
  });
}

test('duplicate YAML key is rejected', async (t) => {
  const path = fixture('duplicate-key.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.line, 4);
  t.regex(error?.message ?? '', /Map keys must be unique/);
});

test('second YAML document is rejected', async (t) => {
  const path = fixture('two-documents.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.line, 2);
  t.regex(error?.message ?? '', /more than one YAML document/);
});

test('YAML 1.1 tag is rejected', async (t) => {
  const path = fixture('yaml11-tag.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.line, 2);
  t.regex(error?.message ?? '', /Unresolved tag/);
});

test('undefined YAML alias is rejected', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, 'alias.yaml');
  await writeFile(path, 'uplink: *missing\n');

  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.file, path);
  t.true(error?.message.startsWith(`invalid YAML in ${path}`), error?.message);
});

test('YAML aliases within limits load', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const path = join(directory, 'alias.yaml');
  await writeFile(path, 'wireguard:\n  hostInterface: &name ve-one\nstrongswan:\n  namespaceInterface: *name\n');

  const loaded = await loadConfig(path);

  t.is(loaded.config.strongswan.namespaceInterface, 've-one');
});

test('top-level list is rejected', async (t) => {
  const path = fixture('not-a-mapping.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.problems.length, 1);
  t.is(error?.problems[0]?.path, '');
  t.true(error?.message.includes('(top level): a list of 1 item is not a mapping'), error?.message);
});

test('missing file names the path', async (t) => {
  const path = fixture('does-not-exist.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.message, `configuration file not found: ${path}`);
  t.is(error?.file, path);
  t.is(error?.exitCode, 2);
  t.is((error?.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
});

test('directory instead of a file', async (t) => {
  const error = await t.throwsAsync(loadConfig(fixtures), { instanceOf: ConfigError });

  t.is(error?.message, `configuration file ${fixtures} is a directory, not a file`);
});

test('invalid YAML values are all reported', async (t) => {
  const path = fixture('invalid-values.yaml');
  const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError });

  t.is(error?.file, path);
  t.deepEqual(
    error?.problems.map(({ path: field, value }) => ({ field, value })),
    [
      { field: 'rulePriority', value: 40000 },
      { field: 'wireguard.transitIPv4', value: '10.47.255.0/33' },
      { field: 'strongswan.namespace', value: '../strongswan' },
    ],
  );

  const lines = error?.message.split('\n') ?? [];
  t.is(lines[0], `invalid configuration in ${path} (3 problems):`);
  t.true(lines[1]?.startsWith('  rulePriority: 40000 is out of range'), lines[1]);
  t.true(lines[2]?.startsWith('  wireguard.transitIPv4: "10.47.255.0/33" is not a valid IPv4 prefix'), lines[2]);
  t.true(lines[3]?.startsWith('  strongswan.namespace: "../strongswan" contains "/"'), lines[3]);
  t.is(lines.length, 4);
});

test('invalid JSON values are all reported', async (t) => {
  const error = await t.throwsAsync(loadConfig(fixture('invalid-values.json')), { instanceOf: ConfigError });

  t.deepEqual(
    error?.problems.map(({ path, value }) => ({ path, value })),
    [
      { path: 'routeProtocol', value: 3 },
      { path: 'dns.serviceAddresses[0]', value: '172.16.0.1/24' },
    ],
  );
  t.regex(error?.message ?? '', /\(2 problems\):/);
});

test('problem line matches the documented form', (t) => {
  const error = validationError(t, { wireguard: { transitIPv4: '10.47.255.0/33' } });

  t.is(error.problems.length, 1);
  t.is(
    error.message.split('\n')[1],
    '  wireguard.transitIPv4: "10.47.255.0/33" is not a valid IPv4 prefix ' +
      '(prefix length 33 is greater than 32, the maximum for IPv4); expected an IPv4 /30 network such as 10.47.255.0/30',
  );
  t.is(error.message.split('\n')[0], 'invalid configuration (1 problem):');
});

test('problems from several fields arrive together', (t) => {
  const error = validationError(t, {
    uplink: 've wg',
    routeProtocol: 2,
    wireguard: { hostInterface: 42, transitIPv6: 'fd47:255::/127' },
    strongswan: { clientPools: ['10.49.0.0/16'], namespace: 'wireguard-ns' },
    dns: { nameserver: '1.1.1.1' },
  });

  t.deepEqual(
    error.problems.map(({ path }) => path),
    [
      'uplink',
      'routeProtocol',
      'wireguard.hostInterface',
      'wireguard.transitIPv6',
      'dns.nameserver',
      'strongswan.clientPools[0]',
      'strongswan.namespace',
    ],
  );
  t.is(error.message.split('\n').length, 1 + error.problems.length);

  for (const problem of error.problems) {
    t.true(error.message.includes(`  ${problem.path}: `), problem.path);
  }
});

test('missing field in a direct call', (t) => {
  const config: Partial<TopologyConfig> = defaultConfig();
  delete config.stateDirectory;

  const error = t.throws(() => validateConfig(config), { instanceOf: ConfigError });

  t.deepEqual(error?.problems, [
    { path: 'stateDirectory', value: undefined, reason: 'the setting is missing', expected: 'a value for this setting' },
  ]);
});

test('disabled services skip conflict checks', (t) => {
  const overrides = {
    wireguard: { enabled: false },
    strongswan: { clientPools: ['10.49.0.0/16'], namespace: 'wireguard-ns', hostInterface: 've-wg' },
  };

  t.notThrows(() => validateConfig(mergeConfig(defaultConfig(), overrides)));
});

test('disabled services still get field checks', (t) => {
  const error = validationError(t, { dns: { enabled: false, transitIPv4: '10.47.255.8/31' } });

  t.deepEqual(
    error.problems.map(({ path, value }) => ({ path, value })),
    [{ path: 'dns.transitIPv4', value: '10.47.255.8/31' }],
  );
});

test('adoptInterface may equal interface', (t) => {
  const config = mergeConfig(defaultConfig(), { wireguard: { adoptInterface: 'wg0' } });

  t.is(validateConfig(config).wireguard.adoptInterface, 'wg0');
});

test('edge values are accepted', (t) => {
  const overrides = {
    uplink: 'enp0s31f6-uplin',
    rulePriority: 32764,
    routeProtocol: 255,
    wireguard: { transitIPv6: 'fd47:255:0:2::/64', namespace: 'n'.repeat(255) },
    strongswan: { transitIPv6: 'fd47:255:0:1::/126', namespace: 'ipsec_ns.2' },
  };

  t.notThrows(() => validateConfig(mergeConfig(defaultConfig(), overrides)));
  t.notThrows(() => validateConfig(mergeConfig(defaultConfig(), { rulePriority: 1, routeProtocol: 5 })));
});

interface CorpusCase {
  name: string;
  overrides: unknown;
  problems: Array<{ path: string; value: unknown; mentions?: string }>;
}

const corpusPath = fixture('invalid-configs.yaml');
// Read synchronously: AVA requires every test to be declared before the file's first await.
const corpus = parse(readFileSync(corpusPath, 'utf8')) as CorpusCase[];

test('corpus has at least 30 cases', (t) => {
  t.true(corpus.length >= 30, `${corpus.length} cases`);
  t.is(new Set(corpus.map((entry) => entry.name)).size, corpus.length, 'case names are unique');
});

for (const entry of corpus) {
  test(`invalid: ${entry.name}`, (t) => {
    const error = validationError(t, entry.overrides);

    t.deepEqual(
      error.problems.map(({ path, value }) => ({ path, value })),
      entry.problems.map(({ path, value }) => ({ path, value })),
    );

    for (const [index, expected] of entry.problems.entries()) {
      const problem = error.problems[index];
      const line = problem === undefined ? '' : formatProblem(problem);

      t.true(error.message.includes(`  ${line}`), 'the message contains the problem line');
      t.true(line.startsWith(`${expected.path}: `), line);

      if (expected.mentions !== undefined) {
        t.true(line.includes(expected.mentions), `${line}\ndoes not contain\n${expected.mentions}`);
      }
    }
  });
}

test('corpus fails through loadConfig too', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'algo-netns-config-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));

  for (const [index, entry] of corpus.entries()) {
    const path = join(directory, `case-${index}.json`);
    await writeFile(path, JSON.stringify(entry.overrides));

    const error = await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError }, entry.name);

    t.is(error?.file, path, entry.name);
    t.is(error?.problems.length, entry.problems.length, entry.name);
  }
});

test('mergeConfig merges mappings key by key', (t) => {
  const merged = mergeConfig({ a: { b: 1, c: 2 }, d: 3 }, { a: { c: 20, e: 5 } });

  t.deepEqual(merged, { a: { b: 1, c: 20, e: 5 }, d: 3 });
});

test('mergeConfig replaces lists and scalars', (t) => {
  const merged = mergeConfig({ list: [1, 2, 3], text: 'x', nested: { list: ['a'] } }, { list: [9], text: 'y', nested: { list: [] } });

  t.deepEqual(merged, { list: [9], text: 'y', nested: { list: [] } });
});

test('mergeConfig lets null and types replace', (t) => {
  t.deepEqual(mergeConfig({ a: { b: 1 } }, { a: null }), { a: null });
  t.deepEqual(mergeConfig({ a: null }, { a: { b: 1 } }), { a: { b: 1 } });
  t.deepEqual(mergeConfig({ a: { b: 1 } }, { a: [1] }), { a: [1] });
  t.deepEqual(mergeConfig({ a: 1 }, {}), { a: 1 });
});

test('mergeConfig leaves its inputs unchanged', (t) => {
  const base = defaultConfig();
  const overrides = { wireguard: { clientPools: ['10.60.0.0/16'] } };

  const merged = mergeConfig(base, overrides) as TopologyConfig;
  merged.wireguard.clientPools.push('10.61.0.0/16');
  merged.dns.serviceAddresses.push('172.16.0.2/32');

  t.deepEqual(base, defaultConfig());
  t.deepEqual(overrides, { wireguard: { clientPools: ['10.60.0.0/16'] } });
});

test('mergeConfig keeps __proto__ as a key', (t) => {
  const overrides = JSON.parse('{ "__proto__": { "polluted": true } }') as unknown;
  const merged = mergeConfig(defaultConfig(), overrides) as Record<string, unknown>;

  t.true(Object.hasOwn(merged, '__proto__'));
  t.is(Object.getPrototypeOf(merged), Object.prototype);
  t.is((merged as { polluted?: unknown }).polluted, undefined);
  t.is(({} as { polluted?: unknown }).polluted, undefined);
});

test('formatConfig YAML round-trips', (t) => {
  const text = formatConfig(defaultConfig(), 'yaml');

  t.deepEqual(parse(text), defaultConfig());
  t.regex(text, /^uplink: null$/m);
  t.regex(text, /^ {2}transitIPv4: 10\.47\.255\.0\/30$/m);
});

test('formatConfig YAML quotes YAML 1.1 words', (t) => {
  const config = mergeConfig(defaultConfig(), { uplink: 'on', wireguard: { namespace: 'yes' } }) as TopologyConfig;
  const text = formatConfig(config, 'yaml');

  t.regex(text, /^uplink: "on"$/m);
  t.regex(text, /^ {2}namespace: "yes"$/m);
  t.deepEqual(parse(text, { version: '1.1' }), config);
});

test('formatConfig JSON round-trips', (t) => {
  const text = formatConfig(defaultConfig(), 'json');

  t.deepEqual(JSON.parse(text), defaultConfig());
  t.true(text.endsWith('}\n'));
});

test('ConfigError carries exit code 2', (t) => {
  const error = validationError(t, { rulePriority: -1 });

  t.is(error.exitCode, 2);
  t.is(error.name, 'ConfigError');
  t.true(error instanceof Error);
});
