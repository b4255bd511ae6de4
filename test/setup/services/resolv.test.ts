import test from 'ava';

import { RESOLV_CONF_MARKER, resolvConfText } from '../../../src/setup/services/resolv.js';

test('resolv.conf names the service addresses', (t) => {
  t.is(resolvConfText(['172.16.0.1/32', 'fd00::1/128']), `${RESOLV_CONF_MARKER}\nnameserver 172.16.0.1\nnameserver fd00::1\n`);
});

test('resolv.conf keeps at most three name servers', (t) => {
  const text = resolvConfText(['172.16.0.1/32', '172.16.0.2/32', '172.16.0.3/32', '172.16.0.4/32']);

  t.is(text.split('\n').filter((line) => line.startsWith('nameserver')).length, 3);
  t.false(text.includes('172.16.0.4'));
});
