// The counting audit sink: what each event counts, with bounded labels (unknown connectors and clients, free text and forged grant types become "other").
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { MAX_REASONS, MetricsAuditSink } from '../../src/observability/audit-sink.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { sample } from './scrape.js';

const event = (fields: Partial<AuditEvent>): AuditEvent => ({ timestamp: '2026-12-01T00:00:00.000Z', level: 'warn', event: 'login.failure', outcome: 'failure', ...fields });

function setup() {
  const metrics = createMetrics({ defaults: false });
  return { metrics, sink: new MetricsAuditSink(metrics, { connectors: ['corp'], clients: ['app'] }) };
}

describe('MetricsAuditSink', () => {
  it('labels configured connectors and clients by id, anything else as "other"', async () => {
    const { metrics, sink } = setup();
    sink.write(event({ connectorId: 'corp', reason: 'invalid_credentials' }));
    sink.write(event({ connectorId: 'attacker-chosen', reason: 'invalid_credentials' }));
    sink.write(event({ event: 'token.issued', outcome: 'success', clientId: 'dynamically-registered', details: { grantType: 'authorization_code' } }));
    sink.write(event({ event: 'token.issued', outcome: 'failure', reason: 'Some Free Text with spaces', details: { grantType: 'x'.repeat(500) } }));
    const text = await metrics.registry.metrics();
    expect(sample(text, 'vestibule_sign_ins_total', { connector: 'corp', outcome: 'failure', reason: 'invalid_credentials' })).toBe(1);
    expect(sample(text, 'vestibule_sign_ins_total', { connector: 'other', outcome: 'failure', reason: 'invalid_credentials' })).toBe(1);
    expect(sample(text, 'vestibule_tokens_issued_total', { grant_type: 'authorization_code', client: 'other' })).toBe(1);
    expect(sample(text, 'vestibule_token_errors_total', { grant_type: 'other', reason: 'other' })).toBe(1);
    expect(text).not.toContain('attacker-chosen');
    expect(text).not.toContain('Free Text');
  });

  it(`keeps at most ${MAX_REASONS} reason values, then counts new ones as "other"`, async () => {
    const { metrics, sink } = setup();
    for (let i = 0; i < MAX_REASONS + 50; i++) sink.write(event({ connectorId: 'corp', reason: `code_${i}` }));
    const text = await metrics.registry.metrics();
    const reasons = new Set([...text.matchAll(/^vestibule_sign_ins_total\{[^}]*reason="([^"]*)"/gm)].map((m) => m[1]));
    expect(reasons.size).toBe(MAX_REASONS + 1);
    expect(sample(text, 'vestibule_sign_ins_total', { connector: 'corp', outcome: 'failure', reason: 'other' })).toBe(50);
  });

  it('counts re-verifications by what the check did', async () => {
    const { metrics, sink } = setup();
    sink.write(event({ event: 'session.reverified', outcome: 'success', connectorId: 'corp', details: { upstreamAsked: true } }));
    sink.write(event({ event: 'session.reverified', outcome: 'success', connectorId: 'corp', details: { upstreamAsked: false } }));
    sink.write(event({ event: 'session.reverified', outcome: 'failure', connectorId: 'corp', reason: 'upstream_timeout' }));
    const text = await metrics.registry.metrics();
    for (const outcome of ['verified', 'confirmed', 'unreachable']) expect(sample(text, 'vestibule_reverifications_total', { connector: 'corp', outcome })).toBe(1);
  });

  it('counts risk decisions by phase, level and action, and step-ups by kind and outcome (not factors proved on the account security page)', async () => {
    const { metrics, sink } = setup();
    sink.write(event({ event: 'risk.evaluated', outcome: 'success', level: 'info', details: { phase: 'sign-in', level: 'low', score: 0, action: 'allow' } }));
    sink.write(event({ event: 'risk.evaluated', outcome: 'success', details: { phase: 'sign-in', level: 'medium', score: 60, action: 'step_up' } }));
    sink.write(event({ event: 'risk.evaluated', outcome: 'failure', reason: 'risk_high', details: { phase: 'authorization', level: 'high', score: 90, action: 'deny' } }));
    sink.write(event({ event: 'risk.evaluated', outcome: 'success', details: { phase: 'reverify', level: 'Medium; DROP', previous: 'low', score: 55 } }));
    sink.write(event({ event: 'mfa.verified', outcome: 'success', level: 'info', details: { kind: 'totp', acr: 'urn:vestibule:acr:mfa' } }));
    sink.write(event({ event: 'mfa.verified', outcome: 'failure', reason: 'invalid', details: { kind: 'totp' } }));
    sink.write(event({ event: 'mfa.verified', outcome: 'failure', reason: 'replayed', details: { kind: 'recovery' } }));
    sink.write(event({ event: 'mfa.verified', outcome: 'success', level: 'info', details: { kind: 'webauthn', via: 'account_security' } }));
    const text = await metrics.registry.metrics();
    expect(sample(text, 'vestibule_risk_decisions_total', { phase: 'sign-in', level: 'low', action: 'allow' })).toBe(1);
    expect(sample(text, 'vestibule_risk_decisions_total', { phase: 'sign-in', level: 'medium', action: 'step_up' })).toBe(1);
    expect(sample(text, 'vestibule_risk_decisions_total', { phase: 'authorization', level: 'high', action: 'deny' })).toBe(1);
    expect(sample(text, 'vestibule_risk_decisions_total', { phase: 'reverify', level: 'other', action: 'none' })).toBe(1);
    expect(sample(text, 'vestibule_step_ups_total', { kind: 'totp', outcome: 'success', reason: 'none' })).toBe(1);
    expect(sample(text, 'vestibule_step_ups_total', { kind: 'totp', outcome: 'failure', reason: 'invalid' })).toBe(1);
    expect(sample(text, 'vestibule_step_ups_total', { kind: 'recovery', outcome: 'failure', reason: 'replayed' })).toBe(1);
    expect(text).not.toMatch(/vestibule_step_ups_total\{[^}]*kind="webauthn"/);
    expect(text).not.toContain('DROP');
  });
});
