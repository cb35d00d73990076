// The client IP: X-Forwarded-For is believed only as far as trusted proxies wrote it, so a client cannot choose the address that is audited and rate-limited.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { clientAddress, clientIp, normalizeIp, proxyTrust } from '../../src/http/client-ip.js';
import { Browser, forms } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';

describe('normalizeIp', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['192.0.2.1:8080', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['::1', '::1'],
  ])('%j is %j', (text, expected) => {
    expect(normalizeIp(text)).toBe(expected);
  });

  it.each(['', 'unknown', '_hidden', 'example.com', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4:', '[::1', '[::1]x', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', ':::', '<script>'])(
    'refuses %j',
    (text) => {
      expect(normalizeIp(text)).toBeUndefined();
    },
  );
});

describe('clientIp', () => {
  const PROXY = '10.0.0.2';

  it('without trust, is the TCP peer whatever X-Forwarded-For says', () => {
    expect(clientIp('198.51.100.7', '203.0.113.66', proxyTrust(false))).toBe('198.51.100.7');
    expect(clientIp('::ffff:198.51.100.7', undefined, proxyTrust(false))).toBe('198.51.100.7');
  });

  describe('with a hop count', () => {
    it('one hop: the entry the proxy appended, never the client-supplied ones to its left', () => {
      expect(clientIp(PROXY, '203.0.113.66, 198.51.100.7', proxyTrust(1))).toBe('198.51.100.7');
      expect(clientIp(PROXY, '198.51.100.7', proxyTrust(1))).toBe('198.51.100.7');
    });

    it('two hops: the entry appended by the outer proxy', () => {
      expect(clientIp(PROXY, '203.0.113.66, 198.51.100.7, 10.0.0.9', proxyTrust(2))).toBe('198.51.100.7');
    });

    it('fewer entries than hops: the leftmost, all of which trusted proxies wrote', () => {
      expect(clientIp(PROXY, '198.51.100.7', proxyTrust(3))).toBe('198.51.100.7');
    });

    it('no header: the peer', () => {
      expect(clientIp(PROXY, undefined, proxyTrust(1))).toBe(PROXY);
      expect(clientIp(PROXY, '', proxyTrust(1))).toBe(PROXY);
    });

    it('a malformed entry stops the walk at the last trusted address', () => {
      expect(clientIp(PROXY, '198.51.100.7, garbage', proxyTrust(1))).toBe(PROXY);
      expect(clientIp(PROXY, 'garbage, 198.51.100.7', proxyTrust(2))).toBe('198.51.100.7');
      expect(clientIp(PROXY, '198.51.100.7,', proxyTrust(1))).toBe(PROXY);
      expect(clientIp(PROXY, ',,,,', proxyTrust(4))).toBe(PROXY);
    });

    it('handles IPv6 and IPv4-mapped addresses', () => {
      expect(clientIp('::ffff:10.0.0.2', '2001:DB8::7', proxyTrust(1))).toBe('2001:db8::7');
      expect(clientIp('fd00::2', '[2001:db8::7]:51234', proxyTrust(1))).toBe('2001:db8::7');
      expect(clientIp('fd00::2', '::ffff:198.51.100.7', proxyTrust(1))).toBe('198.51.100.7');
    });

    it('never throws, whatever the header', () => {
      const huge = Array.from({ length: 5000 }, (_, i) => (i % 3 ? `10.${i % 256}.0.1` : '\u0000%%[]')).join(',');
      expect(() => clientIp(PROXY, huge, proxyTrust(16))).not.toThrow();
      expect(clientIp(undefined, '198.51.100.7', proxyTrust(1))).toBe('198.51.100.7');
      expect(clientIp(undefined, undefined, proxyTrust(1))).toBe('');
    });
  });

  describe('with trusted proxy CIDRs', () => {
    const trust = proxyTrust(['10.0.0.0/8', 'fd00::/8']);

    it('a peer that is not a trusted proxy is the client: its X-Forwarded-For is ignored', () => {
      expect(clientIp('198.51.100.7', '203.0.113.66', trust)).toBe('198.51.100.7');
    });

    it('skips every trusted proxy from the right; the first untrusted address is the client', () => {
      expect(clientIp(PROXY, '203.0.113.66, 198.51.100.7, 10.1.1.1, 10.2.2.2', trust)).toBe('198.51.100.7');
      expect(clientIp('fd00::2', '2001:db8::7, fd12::1', trust)).toBe('2001:db8::7');
    });

    it('an IPv4-mapped peer matches its IPv4 range', () => {
      expect(clientIp('::ffff:10.0.0.2', '198.51.100.7', trust)).toBe('198.51.100.7');
    });

    it('all trusted (a request from inside): the leftmost; malformed: the last trusted address', () => {
      expect(clientIp(PROXY, '10.9.9.9, 10.1.1.1', trust)).toBe('10.9.9.9');
      expect(clientIp(PROXY, '198.51.100.7, bogus', trust)).toBe(PROXY);
    });
  });
});

describe('the clientAddress middleware over HTTP', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

  /** A Koa app behind `proxy = true` (as oidc-provider runs) with the middleware; answers what it believes. */
  async function serve(setting: Parameters<typeof proxyTrust>[0]): Promise<string> {
    const app = new Koa();
    app.proxy = true;
    app.use(clientAddress(proxyTrust(setting)));
    app.use((ctx) => {
      ctx.body = { ip: ctx.ip, protocol: ctx.protocol, host: ctx.host };
    });
    const server = createServer(app.callback());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  const ask = async (url: string, headers: Record<string, string>) => (await fetch(url, { headers })).json() as Promise<{ ip: string; protocol: string; host: string }>;
  const spoof = { 'x-forwarded-for': '203.0.113.66, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };

  it('one hop: the address the proxy appended', async () => {
    const url = await serve(1);
    expect(await ask(url, spoof)).toEqual({ ip: '198.51.100.7', protocol: 'https', host: 'evil.example' });
  });

  it('a list that does not include the peer: the peer, and its X-Forwarded-Proto/Host are dropped', async () => {
    const url = await serve(['10.0.0.0/8']);
    const seen = await ask(url, spoof);
    expect(seen.ip).toBe('127.0.0.1');
    expect(seen.protocol).toBe('http');
    expect(seen.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a list that includes the peer: walked from the right', async () => {
    const url = await serve(['127.0.0.0/8']);
    expect(await ask(url, spoof)).toEqual({ ip: '198.51.100.7', protocol: 'https', host: 'evil.example' });
  });

  it('a malformed header is answered, not a crash', async () => {
    const url = await serve(2);
    const answer = await new Promise<number>((resolve, reject) => {
      const req = request(url, { headers: { 'x-forwarded-for': ['[::1', '\u00ff\u00fe, ,', '1.2.3.4:99999'] } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toBe(200);
  });
});

describe('the broker behind a proxy', () => {
  const brokers: TestBroker[] = [];
  afterAll(() => Promise.all(brokers.map((broker) => broker.close())));

  /** One wrong password, sent with these headers; returns the audited login.failure event. */
  async function auditedFailure(broker: TestBroker, headers: Record<string, string>) {
    const config = await discoverRp(broker.issuer);
    const browser = new Browser();
    const page = await browser.follow((await authorizationRequest(config)).url.href, {}, TEST_CLIENT.redirectUri);
    const form = forms(page).find((f) => f.action.endsWith('/login'))!;
    const answer = await browser.request(new URL(form.action, page.url).href, { form: { ...form.fields, username: TEST_USER.username, password: 'wrong-password-xyz' }, headers });
    expect(answer.status).toBe(401);
    const event = broker.audit.find((e) => e.event === 'login.failure' && e.requestId === answer.headers.get('x-request-id'));
    expect(event).toBeDefined();
    return event!;
  }

  it('TRUST_PROXY=true (one hop): a spoofed leftmost X-Forwarded-For is not the audited IP', async () => {
    const broker = await startBroker({ env: { TRUST_PROXY: 'true' } });
    brokers.push(broker);
    expect(broker.config.trustProxy).toBe(1);
    const event = await auditedFailure(broker, { 'x-forwarded-for': '203.0.113.66, 198.51.100.7' });
    expect(event.ip).toBe('198.51.100.7');
  });

  it('trusted CIDRs that do not include the peer: X-Forwarded-For and X-Request-Id are ignored', async () => {
    const broker = await startBroker({ config: { trustProxy: ['10.0.0.0/8'] } });
    brokers.push(broker);
    const event = await auditedFailure(broker, { 'x-forwarded-for': '203.0.113.66', 'x-request-id': 'chosen-by-client-123' });
    expect(event.ip).toBe('127.0.0.1');
    expect(event.requestId).not.toBe('chosen-by-client-123');
  });

  it('trusted CIDRs that include the peer: the first untrusted address from the right, and the proxy\'s X-Request-Id', async () => {
    const broker = await startBroker({ config: { trustProxy: ['127.0.0.1', '10.0.0.0/8'] } });
    brokers.push(broker);
    const event = await auditedFailure(broker, { 'x-forwarded-for': '203.0.113.66, 198.51.100.7, 10.3.3.3', 'x-request-id': 'set-by-the-proxy-123' });
    expect(event.ip).toBe('198.51.100.7');
    expect(event.requestId).toBe('set-by-the-proxy-123');
  });

  it('spoofed addresses do not spread one client over many per-IP counters', async () => {
    const broker = await startBroker({ config: { trustProxy: 1 } });
    brokers.push(broker);
    const ips = new Set<string | undefined>();
    for (let i = 0; i < 3; i++) ips.add((await auditedFailure(broker, { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` })).ip);
    expect([...ips]).toEqual(['198.51.100.7']);
  });
});
