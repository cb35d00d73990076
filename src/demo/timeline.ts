// The demo app's session timeline: what the broker knows about the signed-in user's federated session, as dated steps (never a token).
import type { BrokerContext } from '../context.js';
import type { AuditTail } from './audit-tail.js';

export interface TimelineEntry {
  /** ISO time (seconds precision). */
  at: string;
  /** Catalog key under `timeline` in views/i18n. */
  key: 'signedIn' | 'sessionStarted' | 'verified' | 'unreachable' | 'reauthMarked' | 'reauthenticated' | 'upstreamTokenExpires' | 'nextCheck' | 'idTokenExpires' | 'audit';
  /** A value shown after the label (provider name, acr). */
  detail?: string;
  /** Still to come (after now). */
  future: boolean;
}

/** How a SAML round trip asks the IdP, as the AuthnRequest says it. */
const ROUND_TRIP = { passive: 'IsPassive', force: 'ForceAuthn' } as const;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The newest live federated session of the ID token's subject, read from the broker's own records. */
export async function sessionTimeline(broker: BrokerContext, claims: Record<string, unknown>, now: number, audit?: AuditTail): Promise<TimelineEntry[]> {
  const entries: Omit<TimelineEntry, 'future'>[] = [];
  const seconds = (value: unknown) => (typeof value === 'number' ? value * 1000 : undefined);
  const authTime = seconds(claims.auth_time);
  if (authTime) entries.push({ at: iso(authTime), key: 'signedIn', ...(typeof claims.acr === 'string' ? { detail: claims.acr } : {}) });
  const expires = seconds(claims.exp);
  if (expires) entries.push({ at: iso(expires), key: 'idTokenExpires' });
  if (typeof claims.sub === 'string') {
    const ids = await broker.sessions.sessionsOf(claims.sub, now);
    const sessions = (await Promise.all(ids.map((id) => broker.sessions.get(claims.sub as string, id)))).filter((s) => s !== undefined);
    const session = sessions.sort((a, b) => b.createdAt - a.createdAt)[0];
    if (session) {
      entries.push({ at: iso(session.createdAt), key: 'sessionStarted', detail: broker.connectors.get(session.connectorId)?.displayName ?? session.connectorId });
      if (session.lastVerifiedAt > session.createdAt) entries.push({ at: iso(session.lastVerifiedAt), key: 'verified' });
      if (session.unreachableSince) entries.push({ at: iso(session.unreachableSince), key: 'unreachable' });
      if (session.reauth) entries.push({ at: iso(session.reauth.at), key: 'reauthMarked', detail: ROUND_TRIP[session.reauth.mode] });
      if (session.nextCheckAt) entries.push({ at: iso(session.nextCheckAt), key: 'nextCheck' });
      const upstreamExpiry = (await broker.vault.get(session.id))?.tokens.expiresAt;
      if (upstreamExpiry) entries.push({ at: iso(upstreamExpiry), key: 'upstreamTokenExpires' });
      // The audit records of this account since the session began (a second of slack: records carry their own clock).
      for (const event of audit?.of(claims.sub, session.createdAt - 1000) ?? []) {
        const roundTrip = event.event === 'session.reverified' && event.outcome === 'success' && event.details?.upstreamAsked === true ? event.details.reauthentication : undefined;
        if (roundTrip === 'passive' || roundTrip === 'force') entries.push({ at: event.timestamp.replace(/\.\d{3}Z$/, 'Z'), key: 'reauthenticated', detail: ROUND_TRIP[roundTrip] });
        entries.push({ at: event.timestamp.replace(/\.\d{3}Z$/, 'Z'), key: 'audit', detail: [event.event, event.outcome, event.reason].filter(Boolean).join(' · ') });
      }
    }
  }
  return entries.sort((a, b) => a.at.localeCompare(b.at)).map((entry) => ({ ...entry, future: Date.parse(entry.at) > now }));
}
