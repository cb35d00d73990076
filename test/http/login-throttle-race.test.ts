// Parallel wrong passwords over real HTTP: at most the limit is checked, the rest answer 429 unchecked, and then even the right password is refused (memory and Redis).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE } from '../../src/federation/login-throttle.js';
import type { KeyValueStore } from '../../src/store/store.js';
import { Browser, forms } from '../helpers/browser.js';
import { startBroker, TEST_CLIENT, TEST_USER, type TestBroker } from '../helpers/broker.js';
import { authorizationRequest, discoverRp } from '../helpers/rp.js';
import { closeTestStore, STORE_BACKENDS } from '../helpers/stores.js';

/** The throttle alone: the risk engine's smart lockout (tested in test/risk) would lock this browser's origin after 5 failures first. */
const THROTTLE_ONLY = { risk: { lockout: { maxFailures: 1000 } } };

const PARALLEL = 24;

/** A browser at the broker's local login form: where to post and the form's hidden fields. */
async function atLoginForm(broker: TestBroker) {
  const config = await discoverRp(broker.issuer);
  const browser = new Browser();
  const page = await browser.follow((await authorizationRequest(config)).url.href, {}, TEST_CLIENT.redirectUri);
  const form = forms(page).find((f) => f.action.endsWith('/login'))!;
  return { browser, form, action: new URL(form.action, page.url).href };
}

describe.each(STORE_BACKENDS)('login throttle on %s', (_name, openStore) => {
  let store: KeyValueStore;
  beforeEach(async () => {
    store = await openStore();
  });
  afterEach(async () => {
    await closeTestStore(store);
  });

  it(`${PARALLEL} parallel wrong passwords for one user: ${DEFAULT_THROTTLE.perUser} are checked, the rest refused unchecked; then the right one is refused`, async () => {
    const broker = await startBroker({ store, config: THROTTLE_ONLY });
    try {
      const { browser, form, action } = await atLoginForm(broker);
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => browser.request(action, { form: { ...form.fields, username: TEST_USER.username, password: `parallel-guess-${i}` } })),
      );
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === 401)).toHaveLength(DEFAULT_THROTTLE.perUser);
      expect(statuses.filter((status) => status === 429)).toHaveLength(PARALLEL - DEFAULT_THROTTLE.perUser);
      for (const refused of answers.filter((answer) => answer.status === 429)) expect(refused.headers.get('retry-after')).toBe('900');
      // The audit log agrees: one invalid_credentials per checked password, one throttled per refusal.
      const reasons = broker.audit.filter((e) => e.event === 'login.failure').map((e) => e.reason);
      expect(reasons.filter((r) => r === 'invalid_credentials')).toHaveLength(DEFAULT_THROTTLE.perUser);
      expect(reasons.filter((r) => r === 'throttled')).toHaveLength(PARALLEL - DEFAULT_THROTTLE.perUser);

      const right = await browser.request(action, { form: { ...form.fields, username: TEST_USER.username, password: TEST_USER.password } });
      expect(right.status).toBe(429);
      expect(right.body).toContain('Too many failed attempts');
      expect(broker.audit.some((e) => e.event === 'login.success')).toBe(false);
    } finally {
      await broker.close();
    }
  });

  it('the limits are configurable (loginThrottle.perUser)', async () => {
    const broker = await startBroker({ store, config: { ...THROTTLE_ONLY, loginThrottle: { perUser: 3 } } });
    try {
      const { browser, form, action } = await atLoginForm(broker);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => browser.request(action, { form: { ...form.fields, username: TEST_USER.username, password: `configured-guess-${i}` } })),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([401, 401, 401, 429, 429, 429]);
    } finally {
      await broker.close();
    }
  });

  it('guesses split between the username and its email share one budget', async () => {
    const broker = await startBroker({ store, config: THROTTLE_ONLY });
    try {
      const { browser, form, action } = await atLoginForm(broker);
      const names = [TEST_USER.username, TEST_USER.email, TEST_USER.email.toUpperCase()];
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => browser.request(action, { form: { ...form.fields, username: names[i % names.length]!, password: `split-guess-${i}` } })),
      );
      expect(answers.filter((answer) => answer.status === 401)).toHaveLength(DEFAULT_THROTTLE.perUser);
      expect(answers.filter((answer) => answer.status === 429)).toHaveLength(PARALLEL - DEFAULT_THROTTLE.perUser);
    } finally {
      await broker.close();
    }
  });

  it('a right password after a few wrong ones signs in and clears the count', async () => {
    const broker = await startBroker({ store, config: THROTTLE_ONLY });
    try {
      const signIn = async (passwords: string[]) => {
        const { browser, form, action } = await atLoginForm(broker);
        return Promise.all(passwords.map((password) => browser.request(action, { form: { ...form.fields, username: TEST_USER.username, password } })));
      };
      const first = await signIn(Array.from({ length: DEFAULT_THROTTLE.perUser - 1 }, (_, i) => `wrong-${i}-xyz`));
      expect(first.map((answer) => answer.status)).toEqual(Array(DEFAULT_THROTTLE.perUser - 1).fill(401));
      const [ok] = await signIn([TEST_USER.password]);
      expect(ok!.status).toBe(303);
      // Cleared: a full new budget of wrong passwords is checked again.
      const after = await signIn(Array.from({ length: DEFAULT_THROTTLE.perUser + 2 }, (_, i) => `later-${i}-xyz`));
      expect(after.filter((answer) => answer.status === 401)).toHaveLength(DEFAULT_THROTTLE.perUser);
    } finally {
      await broker.close();
    }
  });
});
