/**
 * A tiny TCP server and client for the service tests, run with node inside a namespace.
 *
 *   node tcp-tool.js serve HOST PORT       replies to each connection with the client's address
 *   node tcp-tool.js connect HOST PORT MS  prints the server's answer; exits 1 on failure
 *
 * The server prints `listening` once it accepts connections, and the test waits for that line.
 * Its answer, the peer address it saw, shows whether NAT rewrote the client's address.
 */
import { connect, createServer } from 'node:net';

const [mode, host, portText, timeoutText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'serve' && host !== undefined) {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(`${socket.remoteAddress ?? 'unknown'}\n`);
  });
  server.listen(port, host, () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'connect' && host !== undefined) {
  const timeoutMs = Number(timeoutText ?? '2000');
  let answer = '';
  const socket = connect({ host, port });
  socket.setTimeout(timeoutMs, () => fail(`no answer from ${host}:${port} within ${timeoutMs} ms`));
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  socket.on('error', (error) => fail(`connection to ${host}:${port} failed: ${error.message}`));
  socket.on('end', () => {
    process.stdout.write(answer);
    process.exit(0);
  });
} else {
  fail('usage: tcp-tool.js serve HOST PORT | connect HOST PORT TIMEOUT_MS');
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
