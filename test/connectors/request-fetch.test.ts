// requestFetch against a real HTTP server: what openid-client and jose ask of fetch, answered and failing as fetch does.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFetch } from '../../src/connectors/request-fetch.js';
import { freeLoopbackPort } from '../helpers/upstream-oidc.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/token') {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'cache-control': 'no-store' });
        res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer' }));
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/token' });
        res.end();
      } else if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000).unref();
      } else {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('requestFetch', () => {
  it('posts a form with its headers and answers status, headers (repeated ones too) and body', async () => {
    const response = await requestFetch(`${base}/token`, {
      method: 'POST',
      headers: { accept: 'application/json', authorization: 'Basic Y2xpZW50OnNlY3JldA==' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'c 1' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(5_000),
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ access_token: 'at', token_type: 'Bearer' });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/token', body: 'grant_type=authorization_code&code=c+1' });
    expect(request.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', authorization: 'Basic Y2xpZW50OnNlY3JldA==', accept: 'application/json' });
  });

  it('answers a redirect as it is under redirect: manual, and an error status with its body', async () => {
    const moved = await requestFetch(new URL(`${base}/moved`), { redirect: 'manual', headers: new Headers({ accept: 'application/json' }) });
    expect(moved.status).toBe(302);
    expect(moved.headers.get('location')).toBe('/token');
    const empty = await requestFetch(`${base}/empty`, { redirect: 'manual' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const down = await requestFetch(`${base}/other`, { redirect: 'manual' });
    expect(down.status).toBe(503);
    expect(await down.text()).toBe('down');
  });

  it('leaves a redirect to follow to fetch, which follows it', async () => {
    const followed = await requestFetch(`${base}/moved`);
    expect(followed.status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/token');
  });

  it('rejects a call past its signal with the signal\'s reason (a TimeoutError), as fetch does', async () => {
    const error = await requestFetch(`${base}/slow`, { redirect: 'manual', signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError' });
  });

  it('rejects an unreachable upstream with TypeError, its cause the connection error', async () => {
    const port = await freeLoopbackPort();
    const error = await requestFetch(`http://127.0.0.1:${port}/token`, { redirect: 'manual' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
