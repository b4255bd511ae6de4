import test from 'ava';

import { deletedCount } from '../../../src/setup/services/conntrack.js';

test('conntrack summary counts are read', (t) => {
  t.is(deletedCount('conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n'), 3);
  t.is(deletedCount('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n'), 0);
  t.is(deletedCount('conntrack v1.4.7 (conntrack-tools): Operation not permitted\n'), null);
});
