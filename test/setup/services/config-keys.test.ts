import test from 'ava';

import { defaultConfig } from '../../../src/setup/config.js';
import { mergeConfig } from '../../../src/setup/config-load.js';
import { validateConfig } from '../../../src/setup/config-validate.js';
import { ConfigError } from '../../../src/setup/errors.js';

function problemsOf(overrides: unknown): { path: string; reason: string; expected: string }[] {
  try {
    validateConfig(mergeConfig(defaultConfig(), overrides));
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

test('service keys have their defaults', (t) => {
  const config = defaultConfig();

  t.is(config.wireguard.configFile, null);
  t.true(config.dns.resolvConf);
  t.deepEqual(config.firewall, { enabled: true, egressNat: true });
});

test('valid service keys are accepted', (t) => {
  const overrides = { wireguard: { configFile: '/etc/wireguard/wg0.conf' }, dns: { resolvConf: false }, firewall: { enabled: false, egressNat: false } };

  t.deepEqual(problemsOf(overrides), []);
});

test('relative configFile is rejected', (t) => {
  const problems = problemsOf({ wireguard: { configFile: 'wg0.conf' } });

  t.is(problems.length, 1);
  t.is(problems[0]?.path, 'wireguard.configFile');
  t.regex(problems[0]?.reason ?? '', /is not an absolute path/);
  t.regex(problems[0]?.expected ?? '', /absolute file path such as \/etc\/wireguard\/wg0.conf, or null/);
});

test('firewall flags must be booleans', (t) => {
  const problems = problemsOf({ firewall: { enabled: 'yes', egressNat: 1 } });

  t.deepEqual(
    problems.map((problem) => problem.path),
    ['firewall.enabled', 'firewall.egressNat'],
  );
});

test('misspelled firewall key gets a suggestion', (t) => {
  const problems = problemsOf({ firewall: { egresNat: false } });

  t.is(problems[0]?.path, 'firewall.egresNat');
  t.regex(problems[0]?.reason ?? '', /did you mean "egressNat"\?/);
});

test('resolvConf must be a boolean', (t) => {
  const problems = problemsOf({ dns: { resolvConf: 'true' } });

  t.is(problems[0]?.path, 'dns.resolvConf');
});
