// Step-up routes bound to oidc-provider's interaction: the factor page, TOTP, passkey and recovery-code answers, a first enrolment (TOTP or passkey, then recovery codes shown once).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { BrokerContext } from '../../context.js';
import { finishStepUp, stepUpSession } from '../../federation/step-up.js';
import type { StepUpReason } from '../../issuer/interaction-policy.js';
import { mayEnrol } from '../../mfa/enrolment-gate.js';
import type { FactorFailureReason, FactorSubject, FactorSuccess } from '../../mfa/factor.js';
import { MAX_WEBAUTHN_RESPONSE_BYTES, webauthnAmr } from '../../mfa/webauthn.js';
import type { FederatedSession } from '../../session/federated-session.js';
import { csrfToken } from '../csrf.js';
import { HttpError } from '../errors.js';
import { loadInteraction, postedForm, viewOf } from './interaction-details.js';

type Details = Awaited<ReturnType<typeof loadInteraction>>;

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

function stepUpOf(details: Details): { reason: StepUpReason; level: 'low' | 'medium' | 'high' | undefined } {
  const prompt = details.prompt.details as { reason?: StepUpReason; level?: 'low' | 'medium' | 'high' };
  return { reason: prompt.reason ?? 'acr_requested', level: prompt.level };
}

function subjectOf(session: FederatedSession, uid: string): FactorSubject {
  const displayName = session.identity.email ?? session.identity.subject;
  return { accountId: session.accountId, interactionId: uid, displayName };
}

export function mfaRoutes(router: Router, broker: BrokerContext): void {
  const { mfa } = broker;

  /** The interaction this browser holds, at its mfa prompt, with this browser's own session of that account. */
  async function stepUpContext(ctx: Context) {
    const details = await loadInteraction(broker, ctx);
    if (details.prompt.name !== 'mfa') throw new HttpError(400, 'interaction_expired', 'no step-up pending for this interaction');
    const session = await stepUpSession(broker, ctx, details.session?.accountId);
    return { details, session, view: viewOf(broker, details), subject: subjectOf(session, details.uid) };
  }

  function audit(ctx: Context, event: 'mfa.verified' | 'mfa.enrolled', session: FederatedSession, clientId: string, outcome: 'success' | 'failure', kind: string, reason?: string) {
    broker.auditor.record({ event, outcome, accountId: session.accountId, clientId, connectorId: session.connectorId, ip: ctx.ip, requestId: ctx.state.requestId, ...(reason ? { reason } : {}), details: { kind } });
  }

  /** The factor page: the account's factors, or (with none) the enrolment page when the gate allows it, else a refusal. */
  async function showStepUp(ctx: Context, details: Details, session: FederatedSession, error?: string, status = 200): Promise<void> {
    const view = viewOf(broker, details);
    const { reason, level } = stepUpOf(details);
    const factors = await mfa.credentials.list(session.accountId);
    const csrf = csrfToken(broker.config.cookieKeys[0]!, details.uid);
    if (factors.length > 0) {
      const subject = subjectOf(session, details.uid);
      const webauthnOptions = factors.some((f) => f.kind === 'webauthn') ? JSON.stringify(await mfa.webauthn.startVerification(subject)) : undefined;
      broker.renderer.render(
        ctx,
        'mfa',
        { uid: details.uid, csrf, clientName: view.clientName, reason, error, hasTotp: factors.some((f) => f.kind === 'totp'), hasRecovery: factors.some((f) => f.kind === 'recovery'), webauthnOptions },
        status,
      );
      return;
    }
    const gate = mayEnrol({ riskLevel: level ?? session.risk?.level, upstreamMfa: session.risk?.upstreamMfa ?? false, hasFactors: false, now: broker.now(), freshForMs: mfa.freshForMs, ...(session.assurance?.mfaAt ? { factorVerifiedAt: session.assurance.mfaAt } : {}) });
    if (!gate.allowed) {
      audit(ctx, 'mfa.enrolled', session, view.clientId, 'failure', 'any', gate.reason);
      throw new HttpError(403, 'mfa_enrolment_refused', `enrolment refused for ${session.accountId}: ${gate.reason}`);
    }
    const subject = subjectOf(session, details.uid);
    const [start, creation] = await Promise.all([mfa.totp.startEnrolment(subject), mfa.webauthn.startEnrolment(subject)]);
    broker.renderer.render(
      ctx,
      'mfa-enrol',
      {
        uid: details.uid,
        csrf,
        clientName: view.clientName,
        reason,
        error,
        secret: start.secret,
        qrDataUri: `data:image/svg+xml;base64,${Buffer.from(start.qrSvg).toString('base64')}`,
        webauthnOptions: JSON.stringify(creation),
      },
      status,
    );
  }

  router.get('/interaction/:uid/mfa', async (ctx) => {
    const { details, session } = await stepUpContext(ctx);
    await showStepUp(ctx, details, session);
  });

  /** Verifies one answer with one factor; a refusal re-renders the factor page with a safe message (audited with the reason). */
  async function verify(ctx: Context, kind: 'totp' | 'recovery' | 'webauthn', answer: string) {
    const { details, session, view, subject } = await stepUpContext(ctx);
    const result =
      kind === 'webauthn' ? await mfa.webauthn.finishVerification(subject, { response: parsedCredential(answer) }) : await (kind === 'totp' ? mfa.totp : mfa.recovery).finishVerification(subject, { code: answer });
    if (!result.ok) {
      audit(ctx, 'mfa.verified', session, view.clientId, 'failure', kind, result.reason);
      const status = (result.reason as string) === 'too_many_attempts' ? 429 : 401;
      return showStepUp(ctx, details, session, broker.renderer.errorMessage(ctx, failureCode(result.reason)), status);
    }
    await finishStepUp(broker, ctx, session, result, view.clientId);
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
    const { details, session, view, subject } = await stepUpContext(ctx);
    if (await mfa.credentials.hasAny(session.accountId)) throw new HttpError(400, 'mfa_enrolment_refused', 'the account has factors already: verify one of them');
    const enrolled = kind === 'totp' ? await mfa.totp.finishEnrolment(subject, { code: answer }) : await mfa.webauthn.finishEnrolment(subject, { response: parsedCredential(answer) });
    if (!enrolled.ok) {
      audit(ctx, 'mfa.enrolled', session, view.clientId, 'failure', kind, enrolled.reason);
      return showStepUp(ctx, details, session, broker.renderer.errorMessage(ctx, failureCode(enrolled.reason)), 401);
    }
    audit(ctx, 'mfa.enrolled', session, view.clientId, 'success', kind);
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
    const { details, session, view, subject } = await stepUpContext(ctx);
    const enrolled = await broker.store.take<EnrolledFactor>(enrolledKey(details.uid));
    if (!enrolled || enrolled.sessionId !== session.id) throw new HttpError(400, 'interaction_expired', 'no enrolled factor waits for this interaction');
    const codes = await mfa.recovery.finishEnrolment(subject);
    audit(ctx, 'mfa.enrolled', session, view.clientId, codes.ok ? 'success' : 'failure', 'recovery', codes.ok ? undefined : codes.reason);
    await finishStepUp(broker, ctx, session, enrolled.factor, view.clientId);
  });
}
