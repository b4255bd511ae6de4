/**
 * A one-shot DNS query, run by the health check as its own process inside a namespace
 * (through nsenter): `node dns-probe.js SERVER`. It prints the response code of the first
 * response and exits 0, or exits 1 if none arrived within the time limit.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const TIMEOUT_MS = 2000;
const DNS_PORT = 53;

/** Builds a query for NS records of the root zone, which every resolver can resolve from its hints or cache. */
function rootQuery(id: number): Buffer {
  const query = Buffer.alloc(17);
  query.writeUInt16BE(id, 0);
  query.writeUInt16BE(0x0100, 2); // Standard query, recursion desired.
  query.writeUInt16BE(1, 4); // One question.
  query.writeUInt8(0, 12); // The root name.
  query.writeUInt16BE(2, 13); // QTYPE NS.
  query.writeUInt16BE(1, 15); // QCLASS IN.
  return query;
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

const server = process.argv[2] ?? '';
const socket = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
const id = Math.floor(Math.random() * 0x10000);
const timer = setTimeout(() => {
  process.stderr.write(`no DNS response from ${server} within ${TIMEOUT_MS} ms\n`);
  process.exit(1);
}, TIMEOUT_MS);

socket.on('message', (message) => {
  if (message.length < 4 || message.readUInt16BE(0) !== id) return;
  clearTimeout(timer);
  const code = message.readUInt16BE(2) & 0x0f;
  process.stdout.write(`${RCODES[code] ?? `RCODE${code}`}\n`);
  socket.close();
});
socket.on('error', (error) => {
  process.stderr.write(`query to ${server} failed: ${error.message}\n`);
  process.exit(1);
});
socket.send(rootQuery(id), DNS_PORT, server);
