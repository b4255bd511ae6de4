import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { SYSTEM_FOLDERS } from '../../src/ops/programs.js';
import { withErrnoName } from '../../src/ops/relay/client.js';
import { chooseRelay, PERL_SCRIPT_LABEL, relayCommand, type RelayCommandInput } from '../../src/ops/relay/implementation.js';
import { PERL_RELAY_SCRIPT } from '../../src/ops/relay/perl-relay.js';

const PERL = '/usr/bin/perl';

const COMMAND_INPUT: RelayCommandInput = {
  implementation: 'perl',
  perlPath: PERL,
  nodePath: '/usr/bin/node',
  nodeMain: '/opt/algo-netns/dist/src/ops/relay/main.js',
  nsenterPath: '/usr/bin/nsenter',
  namespaceFile: '/run/netns/blue',
};

test('chooseRelay defaults to perl when found', (t) => {
  t.is(chooseRelay(undefined, PERL), 'perl');
  t.is(chooseRelay('', PERL), 'perl', 'an empty value counts as unset');
});

test('chooseRelay falls back to node without perl', (t) => {
  t.is(chooseRelay(undefined, null), 'node');
  t.is(chooseRelay('', null), 'node');
});

test('chooseRelay follows a request', (t) => {
  t.is(chooseRelay('node', PERL), 'node');
  t.is(chooseRelay('node', null), 'node');
  t.is(chooseRelay('perl', PERL), 'perl');
});

test('chooseRelay rejects perl when missing', (t) => {
  const error = t.throws(() => chooseRelay('perl', null));
  t.is(
    error.message,
    'The Perl relay was requested, but perl was not found in the system folders; install perl-base or unset ALGO_NETNS_RELAY',
  );
});

test('chooseRelay rejects unknown values', (t) => {
  for (const value of ['python', 'Perl', 'NODE', ' perl', 'perl,node']) {
    const error = t.throws(() => chooseRelay(value, PERL), undefined, value);
    t.true(error.message.startsWith(`Invalid relay ${JSON.stringify(value)} (from the option or ALGO_NETNS_RELAY): expected "perl" or "node"`), error.message);
  }
});

test('relayCommand runs perl under nsenter', (t) => {
  const { argv, displayArgv } = relayCommand(COMMAND_INPUT);

  t.deepEqual(argv, ['/usr/bin/nsenter', '--net=/run/netns/blue', '--', PERL, '-e', PERL_RELAY_SCRIPT]);
  t.deepEqual(displayArgv, ['/usr/bin/nsenter', '--net=/run/netns/blue', '--', PERL, '-e', PERL_SCRIPT_LABEL]);
});

test('relayCommand runs node under nsenter', (t) => {
  const { argv, displayArgv } = relayCommand({ ...COMMAND_INPUT, implementation: 'node' });

  const expected = ['/usr/bin/nsenter', '--net=/run/netns/blue', '--', '/usr/bin/node', '/opt/algo-netns/dist/src/ops/relay/main.js'];
  t.deepEqual(argv, expected);
  t.deepEqual(displayArgv, expected);
});

test('relayCommand without a namespace skips nsenter', (t) => {
  t.deepEqual(relayCommand({ ...COMMAND_INPUT, namespaceFile: null }).argv, [PERL, '-e', PERL_RELAY_SCRIPT]);
  t.deepEqual(relayCommand({ ...COMMAND_INPUT, implementation: 'node', namespaceFile: null }).argv, [
    '/usr/bin/node',
    '/opt/algo-netns/dist/src/ops/relay/main.js',
  ]);
});

test('relayCommand needs perlPath for perl', (t) => {
  t.throws(() => relayCommand({ ...COMMAND_INPUT, perlPath: null }), { instanceOf: TypeError });
});

test('withErrnoName prefixes the errno name once', (t) => {
  t.is(withErrnoName(2, "No such file or directory, open '/proc/sys/x'"), "ENOENT: No such file or directory, open '/proc/sys/x'");
  t.is(withErrnoName(2, "ENOENT: no such file or directory, open '/proc/sys/x'"), "ENOENT: no such file or directory, open '/proc/sys/x'");
  t.is(withErrnoName(105, 'No buffer space available'), 'ENOBUFS: No buffer space available');
  t.is(withErrnoName(0, 'wrote 1 of 3 bytes'), 'wrote 1 of 3 bytes', 'errno 0 has no name');
  t.is(withErrnoName(99_999, 'odd'), 'odd', 'an unknown errno has no name');
});

test('Perl relay loads no module but strict', (t) => {
  const modules = [...PERL_RELAY_SCRIPT.matchAll(/^\s*(?:use|require|no)\s+([\w:]+)/gm)].map((match) => match[1]);
  t.deepEqual(modules, ['strict']);
});

// The compile check needs perl; Debian and Ubuntu always have it (perl-base is Essential).
// AVA wants tests declared synchronously, so this looks for perl as findProgram does, without awaiting.
const perlPath =
  SYSTEM_FOLDERS.map((folder) => join(folder, 'perl')).find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }) ?? null;
const withPerl = perlPath === null ? test.skip : test;
if (perlPath === null) {
  console.log('Skipping the Perl compile check: perl is not in the system folders');
}

withPerl('Perl relay compiles under strict and warnings', async (t) => {
  // -c compiles without running, so nothing opens a socket.
  const { stderr } = await promisify(execFile)(perlPath ?? PERL, ['-Mwarnings', '-c', '-e', PERL_RELAY_SCRIPT], { encoding: 'utf8' });

  t.is(stderr, '-e syntax OK\n');
});
