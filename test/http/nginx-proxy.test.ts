// The shipped deploy/nginx.conf with the compose setting TRUST_PROXY=1, run for real on loopback: a client cannot choose its audited IP (.ci/run installs nginx-light).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/redis.js';
import { SP_CERT, SP_KEY, TestIdp } from '../helpers/upstream-saml.js';

/** nginx on PATH or in /usr/sbin (Debian's nginx-light); the suite fails, never skips, without it. */
const NGINX = ['nginx', '/usr/sbin/nginx'].find((candidate) => !spawnSync(candidate, ['-v']).error);
const SHIPPED = readFileSync('deploy/nginx.conf', 'utf8');
const COMPOSE = readFileSync('docker-compose.yml', 'utf8');
const SAML_PROVIDER = { id: 'acme', type: 'saml', name: 'ACME', config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off' } };

interface Nginx {
  url: string;
  stop(): Promise<void>;
}

/** Runs nginx with the shipped server block, its upstreams pointed at the broker and its listener on loopback. */
async function runNginx(brokerPort: number, serverBlock: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-nginx-'));
  const port = await freePort();
  const block = serverBlock
    .replace(/server broker-[ab]:3000/g, `server 127.0.0.1:${brokerPort}`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`);
  expect(block).toContain(`listen 127.0.0.1:${port};`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${dir}/${name};`).join('\n  ');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  ${temp}\n${block}\n}\n`,
  );
  const child: ChildProcess = spawn(NGINX!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8').slice(-500)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) await new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('behind the shipped nginx', () => {
  let broker: TestBroker;
  const proxies: Nginx[] = [];
  beforeAll(async () => {
    if (!NGINX) throw new Error('nginx is not installed (Debian: apt-get install nginx-light; .ci/run does it)');
    const trustProxy = /TRUST_PROXY: "([^"]+)"/.exec(COMPOSE)?.[1];
    expect(trustProxy).toBe('1');
    broker = await startBroker({
      env: { TRUST_PROXY: trustProxy! },
      providers: [SAML_PROVIDER],
    });
  });
  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await broker?.close();
  });

  /** Posts a (refused) SAML callback through nginx with these X-Forwarded-For values; returns the audited IP. */
  async function auditedIp(proxy: Nginx, forwardedFor: string): Promise<string | undefined> {
    const answer = await fetch(`${proxy.url}/callback/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
      body: 'SAMLResponse=bm90IHNhbWw%3D',
    });
    expect(answer.status).toBe(400);
    const requestId = answer.headers.get('x-request-id');
    const event = broker.audit.find((e) => e.event === 'upstream.callback.rejected' && e.requestId === requestId);
    expect(event).toBeDefined();
    return event!.ip;
  }

  it('as shipped: the address nginx saw, whatever X-Forwarded-For the client sends', async () => {
    const proxy = await runNginx(broker.port, SHIPPED);
    proxies.push(proxy);
    expect(await auditedIp(proxy, '203.0.113.66')).toBe('127.0.0.1');
    expect(await auditedIp(proxy, '203.0.113.66, 198.51.100.7')).toBe('127.0.0.1');
  });

  it('nginx replaces X-Forwarded-For rather than appending to it: even a broker trusting two hops sees no client-sent value', async () => {
    const overTrusting = await startBroker({ env: { TRUST_PROXY: '2' }, providers: [SAML_PROVIDER] });
    try {
      const proxy = await runNginx(overTrusting.port, SHIPPED);
      proxies.push(proxy);
      const answer = await fetch(`${proxy.url}/callback/acme`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.66' },
        body: 'SAMLResponse=bm90IHNhbWw%3D',
      });
      expect(answer.status).toBe(400);
      const event = overTrusting.audit.find((e) => e.event === 'upstream.callback.rejected' && e.requestId === answer.headers.get('x-request-id'));
      expect(event?.ip).toBe('127.0.0.1');
    } finally {
      await overTrusting.close();
    }
  });

  it('with the documented set_real_ip_from for a load balancer in front: the client that balancer saw, not the one the client claims', async () => {
    const withBalancer = SHIPPED.replace('#   set_real_ip_from 10.0.0.0/8;', 'set_real_ip_from 127.0.0.1;')
      .replace('#   real_ip_header X-Forwarded-For;', 'real_ip_header X-Forwarded-For;')
      .replace('#   real_ip_recursive on;', 'real_ip_recursive on;');
    expect(withBalancer).toContain('set_real_ip_from 127.0.0.1;');
    const proxy = await runNginx(broker.port, withBalancer);
    proxies.push(proxy);
    // The balancer (here the test, at 127.0.0.1) appended 198.51.100.7; 203.0.113.66 was sent by the client.
    expect(await auditedIp(proxy, '203.0.113.66, 198.51.100.7')).toBe('198.51.100.7');
  });
});
