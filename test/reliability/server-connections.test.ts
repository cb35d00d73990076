// trackConnections on a real loopback server: the per-address cap, and the drain (idle closed, headers still arriving answered with Connection: close, timeout reported).
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { trackConnections } from '../../src/server-connections.js';

let server: Server;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

/** A server whose requests to /slow are answered only when `release` is called. */
async function serve(maxPerAddress = 0) {
  let release = () => undefined as void;
  server = createServer((req, res) => {
    if (req.url === '/slow') release = () => void res.end('slow done');
    else res.end('ok');
  });
  const connections = trackConnections(server, { maxPerAddress });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { connections, port: (server.address() as AddressInfo).port, release: () => release() };
}

/** A raw client: what it received, and whether the server closed it. */
function rawClient(port: number) {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  const state = { received: '', closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      state.closed = true;
      resolve();
    }),
  );
  const connected = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  return { socket, state, closed, connected };
}

const tick = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

describe('drain', () => {
  it('resolves at once when nothing is connected', async () => {
    const { connections } = await serve();
    expect(await connections.drain(1000)).toEqual({ answered: true, cut: 0 });
  });

  it('closes idle kept-alive connections at once and answers a request whose headers were still arriving with Connection: close', async () => {
    const { connections, port } = await serve();
    const idle = rawClient(port);
    await idle.connected;
    idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const arriving = rawClient(port);
    await arriving.connected;
    arriving.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await tick();
    const drained = connections.drain(5000);
    await idle.closed;
    expect(idle.state.received).toContain('keep-alive');
    expect(arriving.state.closed).toBe(false);
    arriving.socket.write('\r\n');
    await arriving.closed;
    expect(arriving.state.received).toMatch(/^HTTP\/1\.1 200/);
    expect(arriving.state.received).toMatch(/connection: close/i);
    expect(await drained).toEqual({ answered: true, cut: 0 });
  });

  it('waits for a request in flight, then closes its connection', async () => {
    const { connections, port, release } = await serve();
    const client = rawClient(port);
    await client.connected;
    client.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await tick();
    const drained = connections.drain(5000);
    await tick(200);
    expect(client.state.closed).toBe(false);
    expect(connections.inFlight).toBe(1);
    release();
    await client.closed;
    expect(client.state.received).toContain('slow done');
    expect(await drained).toEqual({ answered: true, cut: 0 });
  });

  it('reports a request still unanswered when the timeout runs out', async () => {
    const { connections, port } = await serve();
    const client = rawClient(port);
    await client.connected;
    client.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await tick();
    expect(await connections.drain(300)).toEqual({ answered: false, cut: 1 });
  });
});

describe('maxPerAddress', () => {
  it('closes a connection beyond the cap at once and serves the others', async () => {
    const { port } = await serve(2);
    const clients = [rawClient(port), rawClient(port), rawClient(port)];
    await Promise.all(clients.map((client) => client.connected));
    await clients[2]!.closed;
    for (const client of clients.slice(0, 2)) client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await tick(200);
    expect(clients.slice(0, 2).every((client) => client.state.received.startsWith('HTTP/1.1 200') && !client.state.closed)).toBe(true);
    expect(clients[2]!.state.received).toBe('');
    for (const client of clients) client.socket.destroy();
  });
});
