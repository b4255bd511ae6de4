import test from 'ava';
import { absentNamespace } from '../../src/ops/absent.js';
import { ensureAddress, removeAddress } from '../../src/ops/addresses.js';
import { ensureLinkUp, getLink } from '../../src/ops/links.js';
import { ensureRoute, removeRoute } from '../../src/ops/routes.js';

// No kernel is involved: the stand-in replies to every read as a namespace without links would.

test('absent namespace has no links', async (t) => {
  const ns = absentNamespace('svc-absent');
  t.teardown(() => ns.close());

  t.is(await getLink(ns, 'lo'), null);
});

test('absent namespace plans addresses of both families', async (t) => {
  const ns = absentNamespace('svc-absent');
  t.teardown(() => ns.close());

  t.deepEqual(await ensureAddress(ns, 'uplink', '10.47.255.2/30', { dryRun: true }), ['add address 10.47.255.2/30 to uplink in svc-absent']);
  t.deepEqual(await ensureAddress(ns, 'uplink', 'fd47:255::2/126', { dryRun: true, noDad: true }), ['add address fd47:255::2/126 to uplink in svc-absent']);
  t.deepEqual(await removeAddress(ns, 'uplink', 'fd47:255::2/126', { dryRun: true }), []);
});

test('absent namespace plans routes over links still to be made', async (t) => {
  const ns = absentNamespace('svc-absent');
  t.teardown(() => ns.close());

  const spec = { destination: 'default', family: 6 as const, gateway: 'fd47:255::1', device: 'uplink' };
  t.deepEqual(await ensureRoute(ns, spec, { dryRun: true }), ['add route default via fd47:255::1 dev uplink in svc-absent']);
  t.deepEqual(await removeRoute(ns, spec, { dryRun: true }), []);
  t.deepEqual(await ensureLinkUp(ns, 'uplink', { dryRun: true }), ['set link uplink up in svc-absent']);
});

test('absent namespace rejects a change', async (t) => {
  const ns = absentNamespace('svc-absent');
  t.teardown(() => ns.close());

  // A change that does not read first goes to the stand-in, which rejects it as read-only.
  const error = await t.throwsAsync(ensureLinkUp(ns, 'uplink'));
  t.regex(error?.message ?? '', /set link uplink up in svc-absent: Read-only file system/);
});
