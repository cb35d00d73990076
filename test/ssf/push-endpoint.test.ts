// Push endpoints supplied by receivers: https only, no private/loopback/link-local addresses (by literal or by resolution) unless configured, no redirects followed, bounded answers and time.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNonPublicAddress } from '../../src/outbound/guarded-agent.js';
import { createPushClient, endpointProblem } from '../../src/ssf/push-endpoint.js';

const STRICT = { allowHttp: false, allowPrivate: false };

describe('endpoint rules', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip'])('%s is not public', (address) => {
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isNonPublicAddress(address)).toBe(false);
  });

  it('accepts an https URL of a public name and refuses everything else', () => {
    expect(endpointProblem('https://receiver.example/events', STRICT)).toBeUndefined();
    expect(endpointProblem('http://receiver.example/events', STRICT)).toMatch(/https/);
    expect(endpointProblem('https://user:pw@receiver.example/events', STRICT)).toMatch(/credentials/);
    expect(endpointProblem('https://receiver.example/events#x', STRICT)).toMatch(/fragment/);
    expect(endpointProblem('https://169.254.169.254/latest/meta-data', STRICT)).toMatch(/private/);
    expect(endpointProblem('https://[::1]/events', STRICT)).toMatch(/private/);
    expect(endpointProblem(`https://receiver.example/${'a'.repeat(3000)}`, STRICT)).toMatch(/2048/);
    expect(endpointProblem(42, STRICT)).toBeDefined();
    expect(endpointProblem('http://127.0.0.1/events', { allowHttp: true, allowPrivate: true })).toBeUndefined();
  });
});

describe('push client', () => {
  let server: Server;
  let port = 0;
  const seen: { path: string; body: string; authorization?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ path: req.url!, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        if (req.url === '/hang') return; // never answers
        if (req.url === '/redirect') {
          res.writeHead(307, { location: 'http://169.254.169.254/' });
          res.end();
          return;
        }
        if (req.url === '/huge') {
          res.writeHead(202);
          res.end('x'.repeat(1024 * 1024));
          return;
        }
        res.writeHead(202);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // The receiver's name resolves (by the injected resolver) to this machine's loopback address.
  const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
  const url = (path: string) => `http://receiver.test:${port}${path}`;

  it('a name that resolves to a loopback address is refused unless private endpoints are allowed', async () => {
    const strict = createPushClient({ allowHttp: true, allowPrivate: false, resolver: toLoopback, timeoutMs: 2000, maxResponseBytes: 1024 });
    const before = seen.length;
    await expect(strict.post(url('/events'), 'set', {})).rejects.toThrow();
    expect(seen.length).toBe(before);
    await strict.close();
    const mixed = createPushClient({ allowHttp: true, allowPrivate: false, resolver: async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }], timeoutMs: 2000, maxResponseBytes: 1024 });
    await expect(mixed.post(url('/events'), 'set', {})).rejects.toThrow();
    await mixed.close();
  });

  it('posts to an allowed endpoint with the headers given, connecting to the resolved address', async () => {
    const client = createPushClient({ allowHttp: true, allowPrivate: true, resolver: toLoopback, timeoutMs: 2000, maxResponseBytes: 1024 });
    expect(await client.post(url('/events'), 'the-set', { 'content-type': 'application/secevent+jwt', authorization: 'Bearer r' })).toEqual({ status: 202 });
    expect(seen.at(-1)).toEqual({ path: '/events', body: 'the-set', authorization: 'Bearer r' });
    await client.close();
  });

  it('does not follow a redirect, reads at most the size limit, and gives up on a receiver that never answers', async () => {
    const client = createPushClient({ allowHttp: true, allowPrivate: true, resolver: toLoopback, timeoutMs: 500, maxResponseBytes: 1024 });
    expect(await client.post(url('/redirect'), 'set', {})).toEqual({ status: 307 });
    expect(await client.post(url('/huge'), 'set', {})).toEqual({ status: 202 });
    await expect(client.post(url('/hang'), 'set', {})).rejects.toThrow();
    await client.close();
  });

  it('refuses http when only https is allowed, before any connection', async () => {
    const client = createPushClient({ allowHttp: false, allowPrivate: true, resolver: toLoopback, timeoutMs: 500, maxResponseBytes: 1024 });
    const before = seen.length;
    await expect(client.post(url('/events'), 'set', {})).rejects.toThrow(/https/);
    expect(seen.length).toBe(before);
    await client.close();
  });
});
