// login.failure names the username tried (bounded, never the password), in the chained record written to the audit file.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Browser, forms } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { auditVerifyCli } from './helpers.js';

describe('login.failure', () => {
  it('records the username tried, cut to 128 characters, and never the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-audit-login-'));
    const auditFile = join(dir, 'audit.jsonl');
    const broker = await startBroker({ config: { auditLog: undefined, audit: { stdout: false, file: { path: auditFile } } } });
    try {
      const browser = new Browser();
      const page = await browser.follow((await authorizationRequest(await discoverRp(broker.issuer))).url.href, {}, TEST_CLIENT.redirectUri);
      const form = forms(page).find((f) => f.action.endsWith('/login'))!;
      const action = new URL(form.action, page.url).href;
      const wrong = await browser.request(action, { form: { ...form.fields, username: 'mallory', password: 'Tr0ub4dor&3-guess' } });
      expect(wrong.status).toBe(401);
      const long = `${'x'.repeat(200)}@example.com`;
      expect((await browser.request(action, { form: { ...form.fields, username: long, password: 'another-guess-123' } })).status).toBe(401);
    } finally {
      await broker.close();
    }
    const text = readFileSync(auditFile, 'utf8');
    expect(text).not.toContain('Tr0ub4dor');
    expect(text).not.toContain('another-guess');
    const failures = text.trimEnd().split('\n').map((line) => JSON.parse(line)).filter((record) => record.event === 'login.failure');
    expect(failures.map((record) => record.details)).toEqual([{ username: 'mallory' }, { username: 'x'.repeat(128) }]);
    expect(failures[0]).toMatchObject({ reason: 'invalid_credentials', connectorId: 'local', clientId: TEST_CLIENT.clientId, ip: '127.0.0.1' });
    expect(auditVerifyCli([auditFile]).status).toBe(0);
  });
});
