import test from 'ava';

import { defaultConfig } from '../../../src/setup/config.js';
import { firewallRuleset, TABLE_COMMENT_PREFIX } from '../../../src/setup/services/firewall.js';
import { SetupError } from '../../../src/setup/setup-error.js';

/** Returns the rule lines of one chain, without its hook line and comments. */
function chainRules(text: string, name: string): string[] {
  const start = text.indexOf(`chain ${name} {`);
  if (start === -1) return [];
  const end = text.indexOf('\n\t}', start);
  return text
    .slice(start, end)
    .split('\n')
    .slice(2)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function hookLine(text: string, name: string): string | undefined {
  const start = text.indexOf(`chain ${name} {`);
  return text.slice(start).split('\n')[1]?.trim();
}

test('file deletes and recreates the table in one transaction', (t) => {
  const lines = firewallRuleset(defaultConfig(), 'eth0')
    .text.split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));

  t.deepEqual(lines.slice(0, 3), ['table inet algo_netns', 'delete table inet algo_netns', 'table inet algo_netns {']);
  t.is(lines.filter((line) => line.startsWith('table ')).length, 2, 'one declaration besides the create');
});

test('table comment carries the digest', (t) => {
  const ruleset = firewallRuleset(defaultConfig(), 'eth0');

  t.regex(ruleset.digest, /^[0-9a-f]{16}$/);
  t.true(ruleset.text.includes(`\tcomment "${TABLE_COMMENT_PREFIX}${ruleset.digest}"`));
});

test('digest is stable and follows the configuration', (t) => {
  const first = firewallRuleset(defaultConfig(), 'eth0').digest;
  t.is(firewallRuleset(defaultConfig(), 'eth0').digest, first, 'same input, same digest');

  const noNat = defaultConfig();
  noNat.firewall.egressNat = false;
  t.not(firewallRuleset(noNat, 'eth0').digest, first, 'egressNat changes it');
  t.not(firewallRuleset(defaultConfig(), 'ens3').digest, first, 'the uplink changes it');
});

test('IKE and ESP on the uplink are DNATed to strongSwan', (t) => {
  const text = firewallRuleset(defaultConfig(), 'eth0').text;

  t.is(hookLine(text, 'ipsec_dnat'), 'type nat hook prerouting priority dstnat - 10; policy accept;');
  t.deepEqual(chainRules(text, 'ipsec_dnat'), [
    'iifname "eth0" fib daddr type local meta nfproto ipv4 udp dport { 500, 4500 } dnat ip to 10.47.255.6',
    'iifname "eth0" fib daddr type local meta nfproto ipv4 meta l4proto esp dnat ip to 10.47.255.6',
    'iifname "eth0" fib daddr type local meta nfproto ipv6 udp dport { 500, 4500 } dnat ip6 to fd47:255::6',
    'iifname "eth0" fib daddr type local meta nfproto ipv6 meta l4proto esp dnat ip6 to fd47:255::6',
  ]);
});

test('egress NAT masquerades pools and transit networks', (t) => {
  const text = firewallRuleset(defaultConfig(), 'eth0').text;

  t.is(hookLine(text, 'egress_nat'), 'type nat hook postrouting priority srcnat + 10; policy accept;');
  t.deepEqual(chainRules(text, 'egress_nat'), [
    'oifname "eth0" ip saddr { 10.49.0.0/16, 10.48.0.0/16, 10.47.255.0/30, 10.47.255.4/30, 10.47.255.8/30 } masquerade',
    'oifname "eth0" ip6 saddr { 2001:db8:a160::/48, 2001:db8:4160::/48, fd47:255::/126, fd47:255::4/126, fd47:255::8/126 } masquerade',
  ]);
});

test('egressNat false leaves out the masquerade chain', (t) => {
  const config = defaultConfig();
  config.firewall.egressNat = false;
  const text = firewallRuleset(config, 'eth0').text;

  t.false(text.includes('masquerade'));
  t.true(text.includes('chain ipsec_dnat'), 'the DNAT stays');
});

test('forward chain isolates before it accepts', (t) => {
  const text = firewallRuleset(defaultConfig(), 'eth0').text;
  const rules = chainRules(text, 'isolate_forward');

  t.is(hookLine(text, 'isolate_forward'), 'type filter hook forward priority filter - 10; policy accept;');
  t.deepEqual(rules.slice(0, 3), ['iifname "ve-wg" oifname "ve-ipsec" drop', 'iifname "ve-ipsec" oifname "ve-wg" drop', 'ct state established,related accept']);
  t.true(rules.includes('iifname "ve-dns" ip daddr { 10.49.0.0/16, 10.48.0.0/16 } drop'));
  t.true(rules.includes('iifname "ve-dns" ip6 daddr { 2001:db8:a160::/48, 2001:db8:4160::/48 } drop'));

  const dnatAccept = rules.indexOf('ip daddr 10.47.255.6 ct status dnat udp dport { 500, 4500 } accept');
  const transitDrop = rules.indexOf('ip daddr { 10.47.255.0/30, 10.47.255.4/30, 10.47.255.8/30 } drop');
  t.true(dnatAccept > 2, 'the DNAT accept comes after the established accept');
  t.true(transitDrop > dnatAccept, 'the transit drop comes after the DNAT accept');
  t.is(rules.at(-1), 'iifname "eth0" oifname { "ve-wg", "ve-ipsec", "ve-dns" } ct state new ct status != dnat drop');
});

test('input chain guards the root transit addresses', (t) => {
  const text = firewallRuleset(defaultConfig(), 'eth0').text;

  t.deepEqual(chainRules(text, 'isolate_input'), [
    'ct state established,related accept',
    'ip6 daddr { fd47:255::/126, fd47:255::4/126, fd47:255::8/126 } icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept',
    'ip daddr { 10.47.255.0/30, 10.47.255.4/30, 10.47.255.8/30 } drop',
    'ip6 daddr { fd47:255::/126, fd47:255::4/126, fd47:255::8/126 } drop',
  ]);
});

test('no uplink means no NAT and a notice', (t) => {
  const ruleset = firewallRuleset(defaultConfig(), null);

  t.false(ruleset.text.includes('chain ipsec_dnat'));
  t.false(ruleset.text.includes('chain egress_nat'));
  t.true(ruleset.text.includes('chain isolate_forward'));
  t.is(ruleset.notices.length, 1);
  t.regex(ruleset.notices[0] ?? '', /no uplink was found/);
});

test('disabled strongSwan drops its rules', (t) => {
  const config = defaultConfig();
  config.strongswan.enabled = false;
  const text = firewallRuleset(config, 'eth0').text;

  t.false(text.includes('chain ipsec_dnat'));
  t.false(text.includes('ve-ipsec'));
  t.false(text.includes('10.48.0.0/16'));
  t.true(text.includes('iifname "ve-dns" ip daddr 10.49.0.0/16 drop'), 'a single pool is written without braces');
});

test('changed names and networks reach the rules', (t) => {
  const config = defaultConfig();
  config.strongswan.hostInterface = 've-sw';
  config.strongswan.transitIPv4 = '10.99.0.4/30';
  config.wireguard.clientPools = ['10.60.0.0/16'];
  const text = firewallRuleset(config, 'ens5').text;

  t.true(text.includes('dnat ip to 10.99.0.6'));
  t.true(text.includes('iifname "ve-wg" oifname "ve-sw" drop'));
  t.true(text.includes('oifname "ens5" ip saddr { 10.60.0.0/16, 10.48.0.0/16,'));
});

test('interface name with a quote is rejected', (t) => {
  const error = t.throws(() => firewallRuleset(defaultConfig(), 'eth"0'));

  t.true(error instanceof SetupError);
  t.regex(error?.message ?? '', /contains a quote or a backslash/);
});
