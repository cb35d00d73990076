// Request bodies over the limit are refused with 413 and audited the same way whether they declare a Content-Length or arrive chunked.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { SP_CERT, SP_KEY, TestIdp } from '../helpers/upstream-saml.js';

const LIMIT = 8 * 1024;
const OVER = 64 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POSTs `size` bytes of form data in 1 KiB writes: chunked (no Content-Length), or with a Content-Length.
 * The server may close the connection before the whole body is written; the answer received until then counts.
 */
function post(url: string, size: number, framing: 'chunked' | 'content-length'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
    if (framing === 'chunked') headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = size;
    let answered = false;
    const req = request(url, { method: 'POST', headers }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const piece = Buffer.from(`a=${'b'.repeat(1022)}`);
    let sent = 0;
    const pump = (): void => {
      while (sent < size && !req.destroyed) {
        const part = piece.subarray(0, Math.min(piece.length, size - sent));
        sent += part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({
    config: { maxBodyBytes: LIMIT },
    providers: [
      {
        id: 'acme',
        type: 'saml',
        name: 'ACME SAML',
        config: { idp: { metadataXml: TestIdp.metadata() }, sp: { signingKey: SP_KEY, signingCert: SP_CERT }, schemaValidation: 'off' },
      },
    ],
  });
});
afterAll(async () => broker?.close());

/** The audit events recorded while `run` ran. */
async function auditedDuring<T>(run: () => Promise<T>): Promise<{ result: T; events: AuditEvent[] }> {
  const before = broker.audit.length;
  const result = await run();
  return { result, events: broker.audit.slice(before) };
}

describe.each(['chunked', 'content-length'] as const)('a body over the limit sent with %s framing', (framing) => {
  it('at the SAML ACS (/callback/:id) answers 413, audited as upstream.callback.rejected', async () => {
    const { result, events } = await auditedDuring(() => post(`${broker.issuer}/callback/acme`, OVER, framing));
    expect(result.status).toBe(413);
    expect(result.body).toContain('The request is too large.');
    expect(result.headers.connection).toBe('close');
    expect(events).toEqual([expect.objectContaining({ event: 'upstream.callback.rejected', outcome: 'failure', reason: 'payload_too_large', connectorId: 'acme', ip: '127.0.0.1' })]);
  });

  it('at the SAML SLO endpoint answers 413, audited as a failed saml.logout', async () => {
    const { result, events } = await auditedDuring(() => post(`${broker.issuer}/saml/acme/slo`, OVER, framing));
    expect(result.status).toBe(413);
    expect(result.body).toContain('The request is too large.');
    expect(events).toEqual([expect.objectContaining({ event: 'saml.logout', outcome: 'failure', reason: 'payload_too_large', connectorId: 'acme', ip: '127.0.0.1' })]);
  });

  it('at an interaction form (16 KiB limit) answers 413', async () => {
    const result = await post(`${broker.issuer}/interaction/some-uid/login`, OVER, framing);
    expect(result.status).toBe(413);
    expect(result.body).toContain('The request is too large.');
  });
});

describe('an upload the client abandons', () => {
  it('is refused and audited once the connection closes, instead of leaving the request pending', async () => {
    const before = broker.audit.length;
    const req = request(`${broker.issuer}/callback/acme`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' } });
    req.on('error', () => {});
    req.write(`a=${'b'.repeat(2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.destroy();
    const deadline = Date.now() + 5000;
    while (broker.audit.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(broker.audit.slice(before)).toEqual([expect.objectContaining({ event: 'upstream.callback.rejected', reason: 'missing_fields', connectorId: 'acme' })]);
  });
});

describe('a body within the limit', () => {
  it('sent chunked is read whole and reaches the connector (an unsolicited Response, not a size refusal)', async () => {
    const { result, events } = await auditedDuring(() => post(`${broker.issuer}/callback/acme`, LIMIT - 100, 'chunked'));
    expect(result.status).toBe(400);
    expect(events).toEqual([expect.objectContaining({ event: 'upstream.callback.rejected', reason: 'saml_unsolicited' })]);
  });

  it('the broker keeps answering after refusing oversized bodies', async () => {
    await Promise.all(Array.from({ length: 5 }, () => post(`${broker.issuer}/callback/acme`, OVER, 'chunked')));
    expect((await fetch(`${broker.issuer}/healthz`)).status).toBe(200);
  });
});
