/**
 * The netlink relay against the real kernel: datagrams, multicast, sysctls, and the
 * relay's life cycle. Each test makes its own namespace and removes it in its teardown.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { createNamespace, deleteNamespace, NamespaceError, pidsInNamespace } from '../src/ops/netns.js';
import { RelayError, RelayTransport, startRelay } from '../src/ops/relay/client.js';
import { HelperError, runHelper } from '../src/ops/spawn.js';
import { readSysctl, SysctlError, sysctlPath } from '../src/ops/sysctl.js';

const SKIP_REASON = 'not inside the integration sandbox; run npm run test:integration';
const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) {
  console.log(`Skipping ${import.meta.url.split('/').pop()}: ${SKIP_REASON}`);
}

/** <linux/netlink.h>: struct nlmsghdr is 16 bytes; messages are 4-byte aligned (NLMSG_ALIGN). */
const NLMSG_HDRLEN = 16;
const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
/** <linux/if_link.h>: IFLA_IFNAME, the interface name attribute. */
const IFLA_IFNAME = 3;
/** <linux/rtnetlink.h>: struct ifinfomsg is 16 bytes. */
const IFINFOMSG_SIZE = 16;
/** <linux/rtnetlink.h>: RTNLGRP_LINK, link notifications. */
const RTNLGRP_LINK = 1;

interface NetlinkMessage {
  type: number;
  seq: number;
  body: Buffer;
}

function align4(length: number): number {
  return (length + 3) & ~3;
}

function uniqueName(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

/** Creates a namespace and starts a relay in it; both are removed when the test ends. */
async function relayInNewNamespace(t: ExecutionContext, label: string): Promise<{ name: string; relay: RelayTransport }> {
  const name = uniqueName(label);
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));
  const relay = await startRelay(name);
  t.teardown(() => relay.close());
  return { name, relay };
}

/** Builds the 32-byte RTM_GETLINK dump request by hand. */
function getLinkDumpRequest(seq: number): Buffer {
  const request = Buffer.alloc(32);
  request.writeUInt32LE(32, 0); // nlmsg_len
  request.writeUInt16LE(18, 4); // nlmsg_type RTM_GETLINK
  request.writeUInt16LE(0x301, 6); // nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
  request.writeUInt32LE(seq, 8); // nlmsg_seq
  request.writeUInt32LE(0, 12); // nlmsg_pid
  // struct ifinfomsg, all zero: ifi_family AF_UNSPEC
  return request;
}

function splitMessages(datagram: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  for (let offset = 0; offset + NLMSG_HDRLEN <= datagram.length; ) {
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN || offset + length > datagram.length) {
      throw new Error(`Malformed netlink message of length ${length} at offset ${offset} of ${datagram.length}`);
    }
    messages.push({
      type: datagram.readUInt16LE(offset + 4),
      seq: datagram.readUInt32LE(offset + 8),
      body: datagram.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += align4(length);
  }
  return messages;
}

/** Returns the IFLA_IFNAME of an RTM_NEWLINK body, without its trailing NUL. */
function linkName(body: Buffer): string | undefined {
  for (let offset = IFINFOMSG_SIZE; offset + 4 <= body.length; ) {
    const length = body.readUInt16LE(offset);
    if (length < 4) {
      return undefined;
    }
    if (body.readUInt16LE(offset + 2) === IFLA_IFNAME) {
      return body.toString('utf8', offset + 4, offset + length).replace(/\0+$/, '');
    }
    offset += align4(length);
  }
  return undefined;
}

/** Records every datagram of a relay and resolves waits for one that matches. */
function recordDatagrams(relay: RelayTransport): { datagrams: Buffer[]; waitFor(match: (datagram: Buffer) => boolean): Promise<Buffer> } {
  const datagrams: Buffer[] = [];
  const waiters: Array<{ match: (datagram: Buffer) => boolean; resolve: (datagram: Buffer) => void }> = [];
  relay.onDatagram((datagram) => {
    datagrams.push(datagram);
    for (const waiter of waiters.filter((candidate) => candidate.match(datagram))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(datagram);
    }
  });
  return {
    datagrams,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const seen = datagrams.find(match);
        if (seen !== undefined) {
          resolve(seen);
          return;
        }
        const timer = setTimeout(() => reject(new Error('No matching datagram within 5000 ms')), 5_000);
        waiters.push({ match, resolve: (datagram) => (clearTimeout(timer), resolve(datagram)) });
      }),
  };
}

/** Dumps the links seen by a relay and returns their names, checking the dump's framing. */
async function dumpLinkNames(t: ExecutionContext, relay: RelayTransport, seq: number): Promise<string[]> {
  const recorder = recordDatagrams(relay);
  relay.send(getLinkDumpRequest(seq));
  const last = await recorder.waitFor((datagram) => splitMessages(datagram).some((message) => message.type === NLMSG_DONE));

  const messages = recorder.datagrams.flatMap(splitMessages);
  t.true(messages.every((message) => message.seq === seq), 'every message answers our sequence number');
  t.is(splitMessages(last).at(-1)?.type, NLMSG_DONE, 'the dump ends with NLMSG_DONE');
  return messages
    .filter((message) => message.type === RTM_NEWLINK)
    .map((message) => linkName(message.body) ?? '?')
    .sort();
}

async function sysctlInside(name: string, key: string): Promise<string> {
  return (await runHelper(['ip', 'netns', 'exec', name, 'sysctl', '-n', key])).stdout.trim();
}

/** Returns whether a process runs: /proc/PID exists and is not a zombie. */
async function processRuns(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "PID (comm) STATE …"; comm may contain spaces and parentheses, so split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await processRuns(pid))) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !(await processRuns(pid));
}

test('relay dumps the links of its namespace', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'dump');
  await runHelper(['ip', '-n', name, 'link', 'add', 'dump0', 'type', 'veth', 'peer', 'name', 'dump1']);

  t.deepEqual(await dumpLinkNames(t, relay, 7), ['dump0', 'dump1', 'lo']);
  t.is(relay.where, name);
});

test('relay datagram contains lo', async (t) => {
  const { relay } = await relayInNewNamespace(t, 'lo');
  const recorder = recordDatagrams(relay);

  relay.send(getLinkDumpRequest(42));
  await recorder.waitFor((datagram) => splitMessages(datagram).some((message) => message.type === NLMSG_DONE));

  const withLo = recorder.datagrams.find((datagram) => datagram.includes(Buffer.from('lo\0')));
  t.not(withLo, undefined);
  t.is(splitMessages(recorder.datagrams.at(-1) ?? Buffer.alloc(0)).at(-1)?.type, NLMSG_DONE);
});

test('relay in the current namespace sees its links', async (t) => {
  const relay = await startRelay(null);
  t.teardown(() => relay.close());

  const { stdout } = await runHelper(['ip', '-j', 'link', 'show']);
  const expected = (JSON.parse(stdout) as Array<{ ifname: string }>).map((link) => link.ifname).sort();

  t.deepEqual(await dumpLinkNames(t, relay, 1), expected);
  t.is(relay.where, 'current namespace');
  t.is(await relay.readSysctl('net.ipv4.ip_default_ttl'), await readSysctl('net.ipv4.ip_default_ttl'));
});

test('relay receives link notifications after joining', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'multicast');
  const recorder = recordDatagrams(relay);

  await relay.addMembership(RTNLGRP_LINK);
  await runHelper(['ip', '-n', name, 'link', 'add', 'note0', 'type', 'veth', 'peer', 'name', 'note1']);

  const notification = await recorder.waitFor((datagram) =>
    splitMessages(datagram).some((message) => message.type === RTM_NEWLINK && linkName(message.body) === 'note0'),
  );
  t.is(splitMessages(notification)[0]?.seq, 0, 'notifications carry sequence number 0');
});

test('joining an invalid group fails with errno', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'badgroup');

  const error = await t.throwsAsync(relay.addMembership(100_000), { instanceOf: RelayError });
  t.is(error.code, 'EINVAL');
  t.is(error.where, name);
  t.regex(error.message, new RegExp(`^Failed to join multicast group 100000 in ${name}: `));
});

test('sysctl write through the relay stays inside', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'sysctl');
  const key = 'net.ipv4.ip_default_ttl';
  const own = await readSysctl(key);
  const value = own === '99' ? '98' : '99';

  await relay.writeSysctl(key, value);

  t.is(await relay.readSysctl(key), value);
  t.is(await sysctlInside(name, key), value);
  t.is(await readSysctl(key), own, 'the test process keeps its own value');
});

test('sysctl of a dotted interface name', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'dotted');
  await runHelper(['ip', '-n', name, 'link', 'add', 'v.1', 'type', 'veth', 'peer', 'name', 'v.2']);

  await relay.writeSysctl('net/ipv4/conf/v.1/rp_filter', '2');

  t.is(await sysctlInside(name, 'net.ipv4.conf.v/1.rp_filter'), '2');
  t.is(await relay.readSysctl('net.ipv4.conf.v/1.rp_filter'), '2');
  t.is(await sysctlInside(name, 'net.ipv4.conf.v/2.rp_filter'), await relay.readSysctl('net/ipv4/conf/v.2/rp_filter'));
});

test('sysctl failures carry the errno', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'sysctlerr');

  const missing = await t.throwsAsync(relay.readSysctl('net.ipv4.no_such_key'), { instanceOf: SysctlError });
  t.is(missing.code, 'ENOENT');
  t.is(missing.key, 'net.ipv4.no_such_key');
  t.regex(missing.message, new RegExp(`^Failed to read sysctl net\\.ipv4\\.no_such_key in ${name}: ENOENT`));

  const invalid = await t.throwsAsync(relay.writeSysctl('net.ipv4.ip_default_ttl', 'abc'), { instanceOf: SysctlError });
  t.is(invalid.code, 'EINVAL');

  const badKey = await t.throwsAsync(relay.readSysctl('net..ipv4'), { instanceOf: SysctlError });
  t.is(badKey.code, undefined);
  t.regex(badKey.message, /^Invalid sysctl key "net\.\.ipv4"/);
});

test('killed relay fires onFailure', async (t) => {
  const { relay } = await relayInNewNamespace(t, 'kill');
  const failure = new Promise<Error>((resolve) => relay.onFailure(resolve));

  process.kill(relay.pid, 'SIGKILL');
  const error = await failure;

  t.true(error instanceof HelperError);
  t.is((error as HelperError).signal, 'SIGKILL');
  t.is((error as HelperError).exitCode, null);
  t.regex(error.message, /^(\/usr\/bin\/)?nsenter --net=\/run\/netns\/t-kill-\w+ -- .*main\.js was killed by signal SIGKILL$/);
  t.throws(() => relay.send(getLinkDumpRequest(1)), { instanceOf: RelayError });
  await t.throwsAsync(relay.readSysctl('net.ipv4.ip_forward'), { instanceOf: SysctlError, message: /the relay has exited/ });
});

test('relay for a missing namespace rejects', async (t) => {
  const name = uniqueName('nowhere');

  const error = await t.throwsAsync(startRelay(name), { instanceOf: HelperError });

  t.is(error.exitCode, 1);
  t.regex(error.command[0] ?? '', /(^|\/)nsenter$/);
  t.regex(error.stderr, new RegExp(`nsenter: cannot open /run/netns/${name}: No such file or directory`));
  t.regex(error.message, new RegExp(`exited with code 1: nsenter: cannot open /run/netns/${name}`));
});

test('relay start timeout leaves no process', async (t) => {
  const name = uniqueName('timeout');
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));

  // Node alone needs tens of milliseconds to start, so 1 ms always runs out.
  const error = await t.throwsAsync(startRelay(name, { timeoutMs: 1 }), { instanceOf: HelperError });

  t.regex(error.message, /timed out after 1 ms without reporting ready/);
  t.is(error.signal, 'SIGKILL');
  t.deepEqual(await pidsInNamespace(name), []);
});

test('corrupt relay output rejects the start', async (t) => {
  // A stand-in relay that prints text, as a stray console.log in the real one would.
  const command = ['sh', '-c', 'printf "Error: boom"; exec sleep 30'];
  const child = spawn(command[0] ?? 'sh', command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const transport = new RelayTransport(child, command, 'stand-in');

  const error = await t.throwsAsync(transport.waitUntilReady(5_000), { instanceOf: HelperError });

  t.regex(error.message, /wrote a corrupt frame \(Relay frame length \d+ at stream offset 0 is out of range/);
  t.is(error.signal, 'SIGKILL');
  t.false(await processRuns(transport.pid));
});

test('relay for an invalid name throws before spawning', async (t) => {
  await t.throwsAsync(startRelay('../etc'), { instanceOf: NamespaceError, message: /Invalid network namespace name/ });
});

test('closed relay leaves no process', async (t) => {
  const { name, relay } = await relayInNewNamespace(t, 'close');
  const pid = relay.pid;
  t.deepEqual(await pidsInNamespace(name), [pid], 'the relay runs inside the namespace');

  const started = performance.now();
  await relay.close();
  const closeMs = performance.now() - started;

  // close() kills the relay only after a 2000 ms grace period, so a quick close means the
  // relay exited on its own when its stdin ended.
  t.true(closeMs < 1_500, `close took ${Math.round(closeMs)} ms`);
  t.false(await processRuns(pid));
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  t.deepEqual(await pidsInNamespace(name), []);
  await t.notThrowsAsync(relay.close(), 'a second close is harmless');
});

test('relay exits when its parent is killed', async (t) => {
  const name = uniqueName('orphan');
  await createNamespace(name);
  t.teardown(() => deleteNamespace(name));

  const clientUrl = new URL('../src/ops/relay/client.js', import.meta.url).href;
  const script = `
    const { startRelay } = await import(${JSON.stringify(clientUrl)});
    const relay = await startRelay(process.argv[1]);
    process.stdout.write(relay.pid + '\\n');
    setInterval(() => {}, 60_000);
  `;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    parent.kill('SIGKILL');
  });
  const relayPid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number.parseInt(chunk.toString(), 10)));
    parent.once('exit', (code) => reject(new Error(`parent exited with code ${code}`)));
  });
  t.true(await processRuns(relayPid), 'the relay runs before the parent dies');

  parent.kill('SIGKILL');

  t.true(await waitUntilGone(relayPid, 5_000), `relay ${relayPid} is gone within 5 s`);
});

test('sysctl keys map to /proc/sys paths', (t) => {
  const cases: Array<[string, string]> = [
    ['net.ipv4.conf.ve-wg.rp_filter', '/proc/sys/net/ipv4/conf/ve-wg/rp_filter'],
    ['net/ipv4/conf/eth0.100/rp_filter', '/proc/sys/net/ipv4/conf/eth0.100/rp_filter'],
    ['net.ipv4.conf.eth0/100.rp_filter', '/proc/sys/net/ipv4/conf/eth0.100/rp_filter'],
    ['net.ipv6.conf.all.forwarding', '/proc/sys/net/ipv6/conf/all/forwarding'],
    ['kernel', '/proc/sys/kernel'],
  ];
  for (const [key, path] of cases) {
    t.is(sysctlPath(key), path, key);
  }

  for (const key of ['', 'net..ipv4', 'net/../etc', 'net.ipv4.', '/net/ipv4', 'net/./ipv4', 'net.ipv4.conf./..rp', 'a\0b']) {
    const error = t.throws(() => sysctlPath(key), { instanceOf: SysctlError }, JSON.stringify(key));
    t.is(error.key, key);
  }
});
