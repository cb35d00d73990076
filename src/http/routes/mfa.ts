// Step-up routes bound to oidc-provider's interaction: the factor page, TOTP, passkey and recovery-code answers, a first enrolment (TOTP or passkey, then recovery codes shown once).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { BrokerContext } from '../../context.js';
import { finishStepUp } from '../../federation/step-up.js';
import type { FactorFailureReason, FactorSuccess } from '../../mfa/factor.js';
import { MAX_WEBAUTHN_RESPONSE_BYTES, webauthnAmr } from '../../mfa/webauthn.js';
import { csrfToken } from '../csrf.js';
import { HttpError } from '../errors.js';
import { finishInteraction, postedForm } from './interaction-details.js';
import { auditFactor, showStepUp, stepUpContext } from './step-up-page.js';

/** A first factor enrolled in this interaction, waiting while the user saves the recovery codes. */
interface EnrolledFactor {
  sessionId: string;
  factor: FactorSuccess;
}

const enrolledKey = (uid: string) => `mfa-enrolled:${uid}`;

/** The user-facing message of a refused answer. */
export function failureCode(reason: FactorFailureReason | 'too_many_attempts'): string {
  if (reason === 'too_many_attempts') return 'too_many_attempts';
  if (reason === 'no_factor') return 'mfa_unavailable';
  return 'mfa_invalid';
}

/** The credential JSON the passkey script posted; anything unparsable reaches the factor as a value it refuses (malformed). */
export function parsedCredential(text: string): unknown {
  if (text.length > MAX_WEBAUTHN_RESPONSE_BYTES) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function mfaRoutes(router: Router, broker: BrokerContext): void {
  const { mfa } = broker;

  router.get('/interaction/:uid/mfa', async (ctx) => {
    const { details, session, factors } = await stepUpContext(broker, ctx);
    await showStepUp(broker, ctx, details, session, { records: factors });
  });

  /** Verifies one answer with one factor; a refusal re-renders the factor page with a safe message (audited with the reason). */
  async function verify(ctx: Context, kind: 'totp' | 'recovery' | 'webauthn', answer: string) {
    const { details, session, factors, view, subject, withSignIn } = await stepUpContext(broker, ctx);
    const result =
      kind === 'webauthn'
        ? await mfa.webauthn.finishVerification(subject, { response: parsedCredential(answer) })
        : kind === 'totp'
          ? await mfa.totp.finishVerification(subject, { code: answer }, factors)
          : await mfa.recovery.finishVerification(subject, { code: answer });
    if (!result.ok) {
      auditFactor(broker, ctx, 'mfa.verified', session, view.clientId, 'failure', kind, result.reason);
      const status = (result.reason as string) === 'too_many_attempts' ? 429 : 401;
      return showStepUp(broker, ctx, details, session, { error: broker.renderer.errorMessage(ctx, failureCode(result.reason)), status });
    }
    await finishStepUp(broker, ctx, { session, factor: result, clientId: view.clientId, withSignIn }, (resumed) => finishInteraction(ctx, details, resumed));
  }

  router.post('/interaction/:uid/mfa/totp', async (ctx) => {
    const form = await postedForm(broker, ctx);
    await verify(ctx, 'totp', form.code ?? '');
  });

  router.post('/interaction/:uid/mfa/recovery', async (ctx) => {
    const form = await postedForm(broker, ctx);
    await verify(ctx, 'recovery', form.code ?? '');
  });

  router.post('/interaction/:uid/mfa/webauthn', async (ctx) => {
    const form = await postedForm(broker, ctx);
    await verify(ctx, 'webauthn', form.response ?? '');
  });

  /**
   * A first factor: TOTP (its first code proves the app holds the secret) or a passkey (the registration is a signed
   * ceremony with the authenticator). Enrolling is verifying it; recovery codes follow, shown once.
   */
  async function enrol(ctx: Context, kind: 'totp' | 'webauthn', answer: string) {
    const { details, session, view, subject } = await stepUpContext(broker, ctx);
    if (await mfa.credentials.hasAny(session.accountId)) throw new HttpError(400, 'mfa_enrolment_refused', 'the account has factors already: verify one of them');
    const enrolled = kind === 'totp' ? await mfa.totp.finishEnrolment(subject, { code: answer }) : await mfa.webauthn.finishEnrolment(subject, { response: parsedCredential(answer) });
    if (!enrolled.ok) {
      auditFactor(broker, ctx, 'mfa.enrolled', session, view.clientId, 'failure', kind, enrolled.reason);
      return showStepUp(broker, ctx, details, session, { error: broker.renderer.errorMessage(ctx, failureCode(enrolled.reason)), status: 401 });
    }
    auditFactor(broker, ctx, 'mfa.enrolled', session, view.clientId, 'success', kind);
    const record = kind === 'webauthn' ? await mfa.credentials.get(session.accountId, enrolled.factorId) : undefined;
    const amr = record?.kind === 'webauthn' ? [webauthnAmr(record)] : [...mfa.totp.amr];
    const factor: FactorSuccess = { ok: true, factorId: enrolled.factorId, kind, amr, phishingResistant: kind === 'webauthn' };
    await broker.store.set(enrolledKey(details.uid), { sessionId: session.id, factor } satisfies EnrolledFactor, broker.config.mfa.enrolmentTtlSeconds * 1000);
    const { codes } = await mfa.recovery.startEnrolment(subject);
    broker.renderer.render(ctx, 'mfa-recovery-codes', { uid: details.uid, csrf: csrfToken(broker.config.cookieKeys[0]!, details.uid), codes });
  }

  router.post('/interaction/:uid/mfa/enrol/totp', async (ctx) => {
    const form = await postedForm(broker, ctx);
    await enrol(ctx, 'totp', form.code ?? '');
  });

  router.post('/interaction/:uid/mfa/enrol/webauthn', async (ctx) => {
    const form = await postedForm(broker, ctx);
    await enrol(ctx, 'webauthn', form.response ?? '');
  });

  /** The user saved the recovery codes: the set becomes active and the enrolled factor completes the step-up. */
  router.post('/interaction/:uid/mfa/continue', async (ctx) => {
    await postedForm(broker, ctx);
    const { details, session, view, subject, withSignIn } = await stepUpContext(broker, ctx);
    const enrolled = await broker.store.take<EnrolledFactor>(enrolledKey(details.uid));
    if (!enrolled || enrolled.sessionId !== session.id) throw new HttpError(400, 'interaction_expired', 'no enrolled factor waits for this interaction');
    const codes = await mfa.recovery.finishEnrolment(subject);
    auditFactor(broker, ctx, 'mfa.enrolled', session, view.clientId, codes.ok ? 'success' : 'failure', 'recovery', codes.ok ? undefined : codes.reason);
    await finishStepUp(broker, ctx, { session, factor: enrolled.factor, clientId: view.clientId, withSignIn }, (resumed) => finishInteraction(ctx, details, resumed));
  });
}
