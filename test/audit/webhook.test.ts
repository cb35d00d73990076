// The audit webhook: HMAC-signed deliveries at or above a level, retried on 5xx, bounded queue, and a hanging receiver never delays a sign-in.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { auditWebhookSchema, type AuditWebhookConfig } from '../../src/audit/config.js';
import { verifySignature } from '../../src/audit/webhook-signature.js';
import { WebhookSink } from '../../src/audit/webhook.js';
import { startBroker } from '../helpers/broker.js';
import { loginAndExchange } from '../helpers/rp.js';
import { recordEvents, silent } from './helpers.js';
import { webhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import type { ServerResponse } from 'node:http';
import { Auditor } from '../../src/audit/auditor.js';

const SECRET = 'webhook-test-secret-0123456789abcdefghij';

/** A receiver on loopback; `answer` decides each response (undefined: hold it, never answer). */
async function receiver(answer: (index: number) => number | undefined): Promise<WebhookReceiver> {
  const created = await webhookReceiver(answer);
  receivers.push(created);
  return created;
}

const receivers: WebhookReceiver[] = [];
const sinks: WebhookSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
  for (const created of receivers.splice(0)) created.close();
});

function sink(url: string, overrides: Partial<AuditWebhookConfig> = {}, closeGraceMs = 0): WebhookSink {
  const config = auditWebhookSchema.parse({ url, secret: SECRET, allowLoopbackHttp: true, backoffMs: 10, ...overrides });
  const created = new WebhookSink(config, silent, Date.now, closeGraceMs);
  sinks.push(created);
  return created;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('audit webhook sink', () => {
  it('delivers warn and above, signed with HMAC-SHA256 over "<t>.<body>" as the README says', async () => {
    const hook = await receiver(() => 204);
    const webhook = sink(hook.url);
    const auditor = new Auditor([webhook], silent, Date.now, 'sso-1.ffff0001');
    auditor.record({ event: 'login.success', outcome: 'success', accountId: 'acct-1' });
    auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials', details: { username: 'bob' } });
    await until(() => hook.received.length === 1 && webhook.pending === 0);
    const [delivery] = hook.received;
    const record = JSON.parse(delivery!.body);
    expect(record).toMatchObject({ event: 'login.failure', instance: 'sso-1.ffff0001', seq: 1, level: 'warn' });
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.headers['vestibule-delivery']).toBe('sso-1.ffff0001:1');
    const header = String(delivery!.headers['vestibule-signature']);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)!;
    expect(match).not.toBeNull();
    expect(match[2]).toBe(createHmac('sha256', SECRET).update(`${match[1]}.${delivery!.body}`).digest('hex'));
    expect(verifySignature(SECRET, delivery!.body, header, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifySignature(SECRET, delivery!.body.replace('bob', 'eve'), header, Math.floor(Date.now() / 1000))).toBe(false);
    expect(verifySignature('another-secret-0123456789abcdefghijklmn', delivery!.body, header, Math.floor(Date.now() / 1000))).toBe(false);
    expect(verifySignature(SECRET, delivery!.body, header, Number(match[1]) + 301)).toBe(false);
  });

  it('retries a 500 with backoff until the receiver takes it, re-signing each attempt', async () => {
    const hook = await receiver((index) => (index < 2 ? 500 : 200));
    const webhook = sink(hook.url);
    recordEvents([webhook], 'sso-1.ffff0002', 1);
    await until(() => hook.received.length === 3 && webhook.pending === 0);
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1);
    for (const attempt of hook.received) expect(verifySignature(SECRET, attempt.body, String(attempt.headers['vestibule-signature']), Math.floor(Date.now() / 1000))).toBe(true);
    expect(webhook.dropped).toBe(0);
  });

  it('gives up after maxAttempts, and does not retry a 4xx refusal', async () => {
    const failing = await receiver(() => 503);
    const webhook = sink(failing.url, { maxAttempts: 3 });
    recordEvents([webhook], 'sso-1.ffff0003', 1);
    await until(() => webhook.dropped === 1);
    expect(failing.received).toHaveLength(3);
    const refusing = await receiver(() => 401);
    const refused = sink(refusing.url, { maxAttempts: 3 });
    recordEvents([refused], 'sso-1.ffff0004', 1);
    await until(() => refused.dropped === 1);
    expect(refusing.received).toHaveLength(1);
  });

  it('times out a receiver that does not answer, then retries', async () => {
    const hook = await receiver(() => undefined);
    const webhook = sink(hook.url, { timeoutMs: 100, maxAttempts: 2 });
    recordEvents([webhook], 'sso-1.ffff0005', 1);
    await until(() => webhook.dropped === 1);
    expect(hook.received).toHaveLength(2);
  });

  it('bounds its queue: beyond maxQueue waiting events are dropped, and writing never waits', async () => {
    const hook = await receiver(() => undefined);
    const webhook = sink(hook.url, { maxQueue: 3, timeoutMs: 60_000 });
    const auditor = new Auditor([webhook], silent, Date.now, 'sso-1.ffff0006');
    for (let i = 0; i < 10; i += 1) auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials' });
    expect(webhook.pending).toBe(3);
    expect(webhook.dropped).toBe(7);
    await until(() => hook.received.length === 1);
    expect(JSON.parse(hook.received[0]!.body).seq).toBe(0);
  });

  it('closing lets queued events go out first (within its grace), so a shutdown or reload does not lose them', async () => {
    const hook = await receiver(() => undefined);
    // Each delivery is answered 50 ms after it arrives.
    hook.server.on('request', (_req, res: ServerResponse) => setTimeout(() => res.writeHead(204).end(), 50));
    const webhook = sink(hook.url, {}, 10_000);
    recordEvents([webhook], 'sso-1.ffff0009', 3).record({ event: 'logout', outcome: 'failure' });
    await webhook.close();
    expect(hook.received.map((r) => JSON.parse(r.body).seq)).toEqual([0, 3]);
    expect(webhook.dropped).toBe(0);
    expect(webhook.pending).toBe(0);
  });

  it('closing stops at its grace: a delivery still hanging is aborted, nothing more is sent', async () => {
    const hook = await receiver(() => undefined);
    const webhook = sink(hook.url, { timeoutMs: 60_000 }, 100);
    const auditor = new Auditor([webhook], silent, Date.now, 'sso-1.ffff000a');
    for (let i = 0; i < 3; i += 1) auditor.record({ event: 'login.failure', outcome: 'failure', reason: 'invalid_credentials' });
    await webhook.close();
    expect(hook.received).toHaveLength(1);
    // The aborted one and the two behind it were not delivered (logged as undelivered).
    expect(webhook.pending).toBe(3);
    expect(hook.received[0]!.res.headersSent).toBe(false);
  });

  it('drops a record larger than maxBodyBytes', async () => {
    const hook = await receiver(() => 200);
    const webhook = sink(hook.url, { maxBodyBytes: 1024 });
    new Auditor([webhook], silent, Date.now, 'sso-1.ffff0007').record({ event: 'login.failure', outcome: 'failure', details: { detail: 'x'.repeat(2000) } });
    expect(webhook.dropped).toBe(1);
    expect(webhook.pending).toBe(0);
  });

  it('does not follow a redirect (a 3xx is a refusal)', async () => {
    const hook = await receiver(() => 302);
    const webhook = sink(hook.url);
    recordEvents([webhook], 'sso-1.ffff0008', 1);
    await until(() => webhook.dropped === 1);
    expect(hook.received).toHaveLength(1);
  });

  it('a hanging webhook does not delay a sign-in: the sign-in completes while the receiver has answered nothing', async () => {
    const hook = await receiver(() => undefined);
    const broker = await startBroker({ config: { audit: { webhook: { url: hook.url, secret: SECRET, minLevel: 'info', allowLoopbackHttp: true, timeoutMs: 60_000 } } } });
    try {
      const { tokens } = await loginAndExchange(broker.issuer);
      expect(tokens.id_token).toBeTruthy();
      expect(broker.audit.map((event) => event.event)).toEqual(expect.arrayContaining(['login.success', 'token.issued']));
      await until(() => hook.received.length >= 1);
      expect(hook.received.every((r) => !r.res.headersSent)).toBe(true);
      // The sign-in's first record is its risk decision, made before the session exists.
      expect(JSON.parse(hook.received[0]!.body).event).toBe('risk.evaluated');
    } finally {
      await broker.close();
    }
  });
});
