// The account security page (/account/security): a signed-in user lists their second factors, proves one, adds an authenticator app or a passkey, regenerates recovery codes and removes a factor.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { BrokerContext } from '../../context.js';
import { readSessionCookie } from '../../federation/session-cookie.js';
import { acrSatisfies } from '../../mfa/assurance.js';
import type { FactorSummary } from '../../mfa/credentials.js';
import { mayEnrol, type EnrolmentGateDecision } from '../../mfa/enrolment-gate.js';
import type { FactorSubject } from '../../mfa/factor.js';
import { clientsRequiringMfa, decideRemoval } from '../../mfa/removal-rule.js';
import type { FederatedSession } from '../../session/federated-session.js';
import { csrfToken, csrfValid } from '../csrf.js';
import { HttpError } from '../errors.js';
import { readForm } from '../form.js';
import { MAX_FORM_BYTES } from './interaction-details.js';
import { failureCode, parsedCredential } from './mfa.js';

const ACCOUNT_SECURITY_PATH = '/account/security';
const VERIFY_PATH = `${ACCOUNT_SECURITY_PATH}/verify`;

/** Where a proof on the verify page leads: the add pages by name, the list otherwise (never a URL from the request). */
const NEXT_PAGES = new Map([
  ['totp', `${ACCOUNT_SECURITY_PATH}/totp`],
  ['passkey', `${ACCOUNT_SECURITY_PATH}/passkey`],
]);
const nextPage = (next: unknown) => (typeof next === 'string' ? NEXT_PAGES.get(next) : undefined);
/** The notices the list shows after a change (?done=…); any other value shows none. */
const NOTICES = new Set(['added', 'removed', 'recovery', 'verified']);

/** A factor proved on this page, for this browser's session: lets it change factors for mfa.accountSecurity.reauthSeconds. */
interface PagedProof {
  at: number;
  kind: string;
}
const proofKey = (sessionId: string) => `account-security-proof:${sessionId}`;
/** The first factor added on this page waits here while its recovery codes are shown (the codes' confirm finishes it). */
const firstFactorKey = (sessionId: string) => `account-security-first:${sessionId}`;

/** The browser's signed-in user: its live federated session, the factor subject of this page and the page's CSRF token. */
interface Visit {
  session: FederatedSession;
  subject: FactorSubject;
  csrf: string;
}

const when = (ms: number | undefined) => (ms === undefined ? undefined : { iso: new Date(ms).toISOString(), text: `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` });

/** The sign-in asked for a second factor that was never given (an abandoned step-up): the session is not a full sign-in. */
const signInComplete = (session: FederatedSession) => !session.risk?.requiredAcr || acrSatisfies(session.assurance?.acr, session.risk.requiredAcr);

export function accountSecurityRoutes(router: Router, broker: BrokerContext): void {
  const { mfa, config } = broker;
  const reauthMs = config.mfa.accountSecurity.reauthSeconds * 1000;
  const signInUrl = config.mfa.accountSecurity.signInUrl ?? (config.demo ? '/demo/login?next=account' : undefined);
  /** The page's CSRF tokens are bound to the browser's session (the HMAC of csrf.ts over this name). */
  const csrfBinding = (session: FederatedSession) => `account-security:${session.id}`;

  /** This browser's live session (the broker's session cookie); without one, undefined after a redirect to the sign-in (or a refusal page when none is configured). */
  async function visit(ctx: Context): Promise<Visit | undefined> {
    ctx.state.langPath = ACCOUNT_SECURITY_PATH;
    const pointer = readSessionCookie(ctx);
    const session = pointer ? await broker.sessions.liveSession(pointer.accountId, pointer.sessionId, broker.now()) : undefined;
    if (!session) {
      if (signInUrl) {
        ctx.status = 303;
        ctx.redirect(signInUrl);
        return undefined;
      }
      throw new HttpError(401, 'account_signed_out', 'no live broker session in this browser');
    }
    // A locked account (an admin, a lockout, high risk) changes nothing, as its tokens stop working too.
    if (await broker.locks.isLocked(session.accountId)) throw new HttpError(403, 'account_locked', `account ${session.accountId} is locked`);
    if (!signInComplete(session)) throw new HttpError(403, 'account_sign_in_incomplete', `the sign-in of this session of ${session.accountId} still needs a second factor`);
    const subject: FactorSubject = { accountId: session.accountId, interactionId: `account-security.${session.id}`, displayName: session.identity.email ?? session.identity.subject };
    return { session, subject, csrf: csrfToken(config.cookieKeys[0]!, csrfBinding(session)) };
  }

  /** The posted form of this page, its CSRF token checked against this browser's session. */
  async function posted(ctx: Context, current: Visit): Promise<Record<string, string>> {
    const form = await readForm(ctx, MAX_FORM_BYTES);
    if (!csrfValid(config.cookieKeys[0]!, csrfBinding(current.session), form.csrf)) throw new HttpError(403, 'csrf', 'account security: missing or wrong CSRF token');
    return form;
  }

  /** When a factor was last proved in this session: a step-up (or an upstream MFA) at sign-in, or a proof on this page. */
  async function lastProof(session: FederatedSession): Promise<number | undefined> {
    const paged = await broker.store.get<PagedProof>(proofKey(session.id));
    const latest = Math.max(session.assurance?.mfaAt ?? 0, paged?.at ?? 0);
    return latest > 0 ? latest : undefined;
  }

  /** The enrolment gate for a change now: low risk only; an account with factors must have proved one within reauthSeconds. */
  async function changeGate(current: Visit, factors: readonly FactorSummary[]): Promise<{ gate: EnrolmentGateDecision; provedAt: number | undefined }> {
    const provedAt = await lastProof(current.session);
    const gate = mayEnrol({
      riskLevel: current.session.risk?.level,
      // An upstream MFA counts through its time (mfaAt at sign-in), like any other proof: only while it is fresh.
      upstreamMfa: false,
      hasFactors: factors.length > 0,
      now: broker.now(),
      freshForMs: reauthMs,
      ...(provedAt ? { factorVerifiedAt: provedAt } : {}),
    });
    return { gate, provedAt };
  }

  function audit(ctx: Context, current: Visit, event: 'mfa.enrolled' | 'mfa.removed' | 'mfa.recovery_regenerated' | 'mfa.verified', outcome: 'success' | 'failure', details: Record<string, string | number>, reason?: string) {
    broker.auditor.record({
      event,
      outcome,
      accountId: current.session.accountId,
      connectorId: current.session.connectorId,
      ip: ctx.ip,
      requestId: ctx.state.requestId,
      ...(reason ? { reason } : {}),
      details: { ...details, via: 'account_security' },
    });
  }

  /**
   * Lets a change through, or answers for the refusal: a factor to prove first (the verify page, leading back to `next`),
   * or a risky sign-in (refused, audited as `event`). Answers the account's factors.
   */
  async function mayChange(ctx: Context, current: Visit, event: 'mfa.enrolled' | 'mfa.removed' | 'mfa.recovery_regenerated', kind: string, next?: string): Promise<FactorSummary[] | undefined> {
    const factors = await mfa.credentials.list(current.session.accountId);
    const { gate } = await changeGate(current, factors);
    if (gate.allowed) return factors;
    if (gate.reason === 'existing_factor_required') {
      if (ctx.method === 'POST') audit(ctx, current, event, 'failure', { kind }, gate.reason);
      ctx.status = 303;
      ctx.redirect(next ? `${VERIFY_PATH}?next=${next}` : VERIFY_PATH);
      return undefined;
    }
    audit(ctx, current, event, 'failure', { kind }, gate.reason);
    throw new HttpError(403, 'mfa_change_refused', `factor change refused for ${current.session.accountId}: ${gate.reason}`);
  }

  /** The list: factors, what the user may do now, a notice after a change or an error. */
  async function showList(ctx: Context, current: Visit, error?: string, status = 200): Promise<void> {
    const factors = await mfa.credentials.list(current.session.accountId);
    const { gate, provedAt } = await changeGate(current, factors);
    const requiredBy = clientsRequiringMfa(broker.clients.values(), current.session.connectorId);
    const authenticators = factors.filter((factor) => factor.kind !== 'recovery');
    const done = typeof ctx.query.done === 'string' && NOTICES.has(ctx.query.done) ? ctx.query.done : undefined;
    broker.renderer.render(
      ctx,
      'account-security',
      {
        csrf: current.csrf,
        who: current.subject.displayName,
        factors: factors.map((factor) => ({ id: factor.id, kind: factor.kind, label: factor.label, addedAt: when(factor.createdAt), lastUsedAt: when(factor.lastUsedAt) })),
        lastAuthenticatorId: authenticators.length === 1 ? authenticators[0]!.id : undefined,
        requiredBy: requiredBy.join(', '),
        recoveryRemaining: factors.some((factor) => factor.kind === 'recovery') ? await mfa.recovery.remaining(current.session.accountId) : undefined,
        canChange: gate.allowed,
        changeUntil: gate.allowed && gate.basis === 'existing_factor' && provedAt ? when(provedAt + reauthMs) : undefined,
        mustVerify: !gate.allowed && gate.reason === 'existing_factor_required',
        refused: !gate.allowed && gate.reason !== 'existing_factor_required',
        notice: done,
        error,
      },
      status,
    );
  }

  router.get(ACCOUNT_SECURITY_PATH, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    await showList(ctx, current);
  });

  /** The verify page: the account's factors to prove (code, passkey, recovery code); `next` names the add page to return to. */
  async function showVerify(ctx: Context, current: Visit, next: string | undefined, error?: string, status = 200): Promise<void> {
    const factors = await mfa.credentials.list(current.session.accountId);
    if (factors.length === 0) return ctx.redirect(nextPage(next) ?? ACCOUNT_SECURITY_PATH);
    const hasPasskey = factors.some((factor) => factor.kind === 'webauthn');
    broker.renderer.render(
      ctx,
      'account-security-verify',
      {
        csrf: current.csrf,
        next: nextPage(next) ? next : '',
        hasTotp: factors.some((factor) => factor.kind === 'totp'),
        hasRecovery: factors.some((factor) => factor.kind === 'recovery'),
        webauthnOptions: hasPasskey ? JSON.stringify(await mfa.webauthn.startVerification(current.subject)) : undefined,
        error,
      },
      status,
    );
  }

  router.get(VERIFY_PATH, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    await showVerify(ctx, current, typeof ctx.query.next === 'string' ? ctx.query.next : undefined);
  });

  /** One answer with one factor: a right one is remembered for this session (the proof), a wrong one re-renders the page. */
  for (const kind of ['totp', 'recovery', 'webauthn'] as const) {
    router.post(`${VERIFY_PATH}/${kind}`, async (ctx) => {
      const current = await visit(ctx);
      if (!current) return;
      const form = await posted(ctx, current);
      const result =
        kind === 'webauthn'
          ? await mfa.webauthn.finishVerification(current.subject, { response: parsedCredential(form.response ?? '') })
          : await mfa[kind].finishVerification(current.subject, { code: form.code ?? '' });
      if (!result.ok) {
        audit(ctx, current, 'mfa.verified', 'failure', { kind }, result.reason);
        return showVerify(ctx, current, form.next, broker.renderer.errorMessage(ctx, failureCode(result.reason)), result.reason === 'too_many_attempts' ? 429 : 401);
      }
      await broker.store.set(proofKey(current.session.id), { at: broker.now(), kind } satisfies PagedProof, reauthMs);
      audit(ctx, current, 'mfa.verified', 'success', { kind });
      ctx.status = 303;
      ctx.redirect(nextPage(form.next) ?? `${ACCOUNT_SECURITY_PATH}?done=verified`);
    });
  }

  /** After a factor is added: the first one gets a recovery-code set (shown once, confirmed), a later one goes back to the list. */
  async function afterAdded(ctx: Context, current: Visit, hadFactors: boolean): Promise<void> {
    if (hadFactors) {
      ctx.status = 303;
      return ctx.redirect(`${ACCOUNT_SECURITY_PATH}?done=added`);
    }
    await broker.store.set(firstFactorKey(current.session.id), 1, config.mfa.enrolmentTtlSeconds * 1000);
    await showCodes(ctx, current);
  }

  async function showCodes(ctx: Context, current: Visit): Promise<void> {
    const { codes } = await mfa.recovery.startEnrolment(current.subject);
    broker.renderer.render(ctx, 'account-security-recovery', { csrf: current.csrf, codes });
  }

  router.get(`${ACCOUNT_SECURITY_PATH}/totp`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    if (!(await mayChange(ctx, current, 'mfa.enrolled', 'totp', 'totp'))) return;
    await showTotp(ctx, current);
  });

  async function showTotp(ctx: Context, current: Visit, error?: string, status = 200): Promise<void> {
    const start = await mfa.totp.startEnrolment(current.subject);
    broker.renderer.render(
      ctx,
      'account-security-totp',
      { csrf: current.csrf, secret: start.secret, qrDataUri: `data:image/svg+xml;base64,${Buffer.from(start.qrSvg).toString('base64')}`, error },
      status,
    );
  }

  router.post(`${ACCOUNT_SECURITY_PATH}/totp`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    const form = await posted(ctx, current);
    const factors = await mayChange(ctx, current, 'mfa.enrolled', 'totp', 'totp');
    if (!factors) return;
    const enrolled = await mfa.totp.finishEnrolment(current.subject, { code: form.code ?? '', ...(form.label ? { label: form.label } : {}) });
    if (!enrolled.ok) {
      audit(ctx, current, 'mfa.enrolled', 'failure', { kind: 'totp' }, enrolled.reason);
      // Nothing pending any more (used by a concurrent confirm, or expired): the list says what the account has now.
      if (enrolled.reason === 'no_challenge') return showList(ctx, current, broker.renderer.errorMessage(ctx, 'mfa_enrolment_expired'), 409);
      return showTotp(ctx, current, broker.renderer.errorMessage(ctx, enrolled.reason === 'limit_reached' ? 'mfa_limit_reached' : failureCode(enrolled.reason)), enrolled.reason === 'too_many_attempts' ? 429 : 401);
    }
    audit(ctx, current, 'mfa.enrolled', 'success', { kind: 'totp', factorId: enrolled.factorId });
    await afterAdded(ctx, current, factors.length > 0);
  });

  router.get(`${ACCOUNT_SECURITY_PATH}/passkey`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    if (!(await mayChange(ctx, current, 'mfa.enrolled', 'webauthn', 'passkey'))) return;
    await showPasskey(ctx, current);
  });

  async function showPasskey(ctx: Context, current: Visit, error?: string, status = 200): Promise<void> {
    const creation = await mfa.webauthn.startEnrolment(current.subject);
    broker.renderer.render(ctx, 'account-security-passkey', { csrf: current.csrf, webauthnOptions: JSON.stringify(creation), error }, status);
  }

  router.post(`${ACCOUNT_SECURITY_PATH}/passkey`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    const form = await posted(ctx, current);
    const factors = await mayChange(ctx, current, 'mfa.enrolled', 'webauthn', 'passkey');
    if (!factors) return;
    const enrolled = await mfa.webauthn.finishEnrolment(current.subject, { response: parsedCredential(form.response ?? ''), ...(form.label ? { label: form.label } : {}) });
    if (!enrolled.ok) {
      audit(ctx, current, 'mfa.enrolled', 'failure', { kind: 'webauthn' }, enrolled.reason);
      return showPasskey(ctx, current, broker.renderer.errorMessage(ctx, enrolled.reason === 'limit_reached' ? 'mfa_limit_reached' : failureCode(enrolled.reason)), 401);
    }
    audit(ctx, current, 'mfa.enrolled', 'success', { kind: 'webauthn', factorId: enrolled.factorId });
    await afterAdded(ctx, current, factors.length > 0);
  });

  /** A new recovery-code set, shown once; the old set keeps working until the user confirms having saved the new one. */
  router.post(`${ACCOUNT_SECURITY_PATH}/recovery`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    await posted(ctx, current);
    const factors = await mayChange(ctx, current, 'mfa.recovery_regenerated', 'recovery');
    if (!factors) return;
    if (!factors.some((factor) => factor.kind !== 'recovery')) throw new HttpError(400, 'mfa_recovery_needs_factor', 'recovery codes without an authenticator app or passkey');
    await showCodes(ctx, current);
  });

  /** The user saved the codes shown: the set becomes active and replaces the old one (a first factor's set is its enrolment). */
  router.post(`${ACCOUNT_SECURITY_PATH}/recovery/confirm`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    await posted(ctx, current);
    const first = await broker.store.take(firstFactorKey(current.session.id));
    const activated = await mfa.recovery.finishEnrolment(current.subject);
    const event = first ? 'mfa.enrolled' : 'mfa.recovery_regenerated';
    if (!activated.ok) {
      audit(ctx, current, event, 'failure', { kind: 'recovery' }, activated.reason);
      return showList(ctx, current, broker.renderer.errorMessage(ctx, 'mfa_enrolment_expired'), 409);
    }
    audit(ctx, current, event, 'success', { kind: 'recovery', factorId: activated.factorId });
    ctx.status = 303;
    ctx.redirect(`${ACCOUNT_SECURITY_PATH}?done=${first ? 'added' : 'recovery'}`);
  });

  router.post(`${ACCOUNT_SECURITY_PATH}/remove`, async (ctx) => {
    const current = await visit(ctx);
    if (!current) return;
    const form = await posted(ctx, current);
    const factors = await mayChange(ctx, current, 'mfa.removed', 'any');
    if (!factors) return;
    const factorId = (form.factor ?? '').slice(0, 64);
    const decision = decideRemoval(factors, factorId, clientsRequiringMfa(broker.clients.values(), current.session.connectorId));
    if (!decision.allowed) {
      audit(ctx, current, 'mfa.removed', 'failure', { factorId }, decision.reason);
      if (decision.reason === 'required_by_client') {
        return showList(ctx, current, broker.renderer.errorMessage(ctx, 'mfa_last_factor_required').replace('{apps}', decision.clients.join(', ')), 409);
      }
      throw new HttpError(400, 'mfa_unavailable', `remove: ${decision.reason}`);
    }
    // Of two removals of one factor at the same moment, only the one that took it goes on (and removes what goes with it).
    const [target, ...companions] = decision.remove;
    if (!(await mfa.credentials.remove(current.session.accountId, target!))) return showList(ctx, current, broker.renderer.errorMessage(ctx, 'mfa_unavailable'), 409);
    let removed = 1;
    for (const id of companions) if (await mfa.credentials.remove(current.session.accountId, id)) removed += 1;
    const kind = factors.find((factor) => factor.id === factorId)!.kind;
    audit(ctx, current, 'mfa.removed', 'success', { kind, factorId, removed, lastFactor: String(decision.lastAuthenticator) });
    ctx.status = 303;
    ctx.redirect(`${ACCOUNT_SECURITY_PATH}?done=removed`);
  });
}
