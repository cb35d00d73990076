// The `risk` configuration section (signals, weights, thresholds, lockout, high-risk action, SOAR webhook) and the per-client `risk` override with its access policy.
import { z } from 'zod';
import { ACR_VALUES } from '../mfa/assurance.js';
import { parseCidr } from './trust-proxy.js';

/** Every signal the risk engine can raise; each has a weight (README: Risk-graded access). */
export const SIGNAL_NAMES = [
  'network.blocked',
  'network.untrusted',
  'network.reputation',
  'device.new',
  'device.user_agent_changed',
  'time.off_hours',
  'velocity.account',
  'velocity.ip',
  'posture.low',
  'geo.impossible_travel',
  'upstream.mfa',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Default weights: an untrusted network, a new device and off-hours together (60) reach medium; a blocked network alone is high. */
export const DEFAULT_WEIGHTS: Readonly<Record<SignalName, number>> = {
  'network.blocked': 100,
  'network.untrusted': 20,
  'network.reputation': 50,
  'device.new': 20,
  'device.user_agent_changed': 15,
  'time.off_hours': 20,
  'velocity.account': 25,
  'velocity.ip': 25,
  'posture.low': 30,
  'geo.impossible_travel': 60,
  'upstream.mfa': -20,
};

const cidrList = z.array(
  z.string().superRefine((value, ctx) => {
    if (!parseCidr(value)) ctx.addIssue({ code: 'custom', message: `"${value.slice(0, 60)}" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.0.2.10, fd00::/8)` });
  }),
);

const weight = z.number().int().min(-100).max(100);
const weightsSchema = z.strictObject(Object.fromEntries(SIGNAL_NAMES.map((name) => [name, weight.optional()])) as Record<SignalName, z.ZodOptional<typeof weight>>);

const thresholdsSchema = z
  .strictObject({
    medium: z.number().int().min(1).max(100).describe('A score at or above this is medium risk: step-up.'),
    high: z.number().int().min(1).max(100).describe('A score at or above this is high risk: refused, sessions ended, account locked.'),
  })
  .refine((t) => t.medium < t.high, 'medium must be lower than high');

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const workingHoursSchema = z
  .strictObject({
    timeZone: z
      .string()
      .refine((zone) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone (e.g. Europe/Berlin, Asia/Shanghai, UTC)')
      .default('UTC')
      .describe('IANA time zone the hours are in.'),
    days: z.array(z.enum(WEEKDAYS)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']).describe('Working days.'),
    start: clock.default('08:00').describe('Start of the working day (inclusive), HH:MM.'),
    end: clock.default('19:00').describe('End of the working day (exclusive), HH:MM; earlier than start for a night shift.'),
  })
  .refine((hours) => hours.start !== hours.end, 'start and end must differ');

/** The SOAR webhook: the audit webhook's delivery settings (HMAC-SHA256 signed, retried, never blocking), for risk.high and risk.lockout only. */
export const riskWebhookSchema = z.strictObject({
  url: z.string().url().describe('Receiver URL (SOAR playbook); https only (see allowLoopbackHttp).'),
  secret: z.string().min(32, 'must be at least 32 characters').describe('HMAC-SHA256 key signing each delivery; "$ENV_NAME" recommended.'),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000).describe('Timeout of one delivery attempt, ms.'),
  maxAttempts: z.number().int().min(1).max(20).default(6).describe('Attempts per event (retries back off exponentially).'),
  backoffMs: z.number().int().min(10).max(600_000).default(1000).describe('First retry delay, doubled each time (capped at 5 minutes).'),
  maxQueue: z.number().int().min(1).max(100_000).default(1000).describe('Events waiting for delivery; beyond it new events are dropped (and audited).'),
  allowLoopbackHttp: z.boolean().default(false).describe('Allow http:// to a loopback address (tests, a local relay).'),
});

const upstreamAssuranceSchema = z.strictObject({
  mfaAmr: z.array(z.string().min(1)).optional().describe('Upstream amr values that mean it did MFA (default: mfa, mca, otp, hwk, swk, sc, sms, tel).'),
  mfaAcr: z.array(z.string().min(1)).optional().describe("Upstream acr values that mean it did MFA (default: REFEDS MFA, Entra's multipleauthn, SAML MobileTwoFactor classes)."),
  amrMap: z.record(z.string(), z.array(z.string().min(1))).optional().describe('Upstream amr (or acr) value -> RFC 8176 amr values carried into the ID token.'),
});

export const riskConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Evaluate risk at every sign-in and authorization.'),
    weights: weightsSchema.prefault({}).describe('Points per signal (-100..100); absent: the default.'),
    thresholds: thresholdsSchema.default({ medium: 50, high: 80 }),
    networks: z
      .strictObject({
        trusted: cidrList.default([]).describe('Trusted networks (office, VPN); when set, any other address raises network.untrusted.'),
        blocked: cidrList.default([]).describe('Blocked networks: network.blocked.'),
        reputationFile: z.string().min(1).optional().describe('IP-reputation list: one address or CIDR a line, "#" comments; a listed address raises network.reputation. Relative to the configuration file.'),
      })
      .prefault({}),
    workingHours: workingHoursSchema.optional().describe('Outside these hours a sign-in raises time.off_hours (absent: never).'),
    velocity: z
      .strictObject({
        windowSeconds: z.number().int().min(10).max(86_400).default(300).describe("Sliding window of the address's failed-sign-in count, estimated from two fixed windows (the account's failures count exactly within lockout.windowSeconds)."),
        accountFailures: z.number().int().min(1).max(1000).default(3).describe('Failed sign-ins of the account (both origins) within lockout.windowSeconds that raise velocity.account.'),
        ipFailures: z.number().int().min(1).max(100_000).default(10).describe('Failed sign-ins from the address within the window that raise velocity.ip.'),
      })
      .prefault({}),
    lockout: z
      .strictObject({
        maxFailures: z.number().int().min(1).max(1000).default(5).describe('More failures than this within the window lock sign-in (familiar and unfamiliar devices counted separately).'),
        windowSeconds: z.number().int().min(10).max(86_400).default(300).describe('Sliding window of the lockout count.'),
        lockSeconds: z.number().int().min(1).max(30 * 86_400).default(900).describe('How long a lockout lasts (or until `vestibule accounts unlock`).'),
      })
      .prefault({}),
    device: z
      .strictObject({
        cookieName: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('vestibule_device').describe('Name of the signed device cookie.'),
        maxAgeDays: z.number().int().min(1).max(400).default(400).describe('Lifetime of the device cookie and of a remembered device.'),
        maxPerAccount: z.number().int().min(1).max(1000).default(20).describe('Remembered devices per account (the least recently seen is forgotten).'),
      })
      .prefault({}),
    posture: z
      .strictObject({
        header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).default('x-device-posture').describe('Request header carrying a 0-100 device posture score; believed only from a trusted proxy (trustProxy).'),
        minScore: z.number().int().min(0).max(100).default(50).describe('A score below this raises posture.low.'),
      })
      .prefault({}),
    geo: z
      .strictObject({
        databaseFile: z.string().min(1).describe('MaxMind-format city database (.mmdb, e.g. GeoLite2-City); relative to the configuration file.'),
        maxSpeedKmh: z.number().int().min(100).max(20_000).default(1000).describe('Faster travel between consecutive sign-ins raises geo.impossible_travel.'),
        minDistanceKm: z.number().int().min(0).max(20_000).default(300).describe('Shorter distances never count (city-level accuracy).'),
      })
      .optional()
      .describe('Impossible travel (absent: no geo signal).'),
    upstreamAssurance: z.record(z.string(), upstreamAssuranceSchema).default({}).describe('Per provider id: which upstream amr/acr mean MFA, and how they map to RFC 8176 amr.'),
    stepUpMaxAgeSeconds: z.number().int().min(0).max(86_400).default(900).describe('A second factor verified in this session this recently satisfies a medium-risk step-up.'),
    highRiskLockSeconds: z.number().int().min(1).max(365 * 86_400).default(3600).describe('How long high risk locks the account (or until `vestibule accounts unlock`).'),
    webhook: riskWebhookSchema.optional().describe('SOAR webhook: risk.high and risk.lockout events, signed like the audit webhook.'),
  })
  .superRefine((risk, ctx) => {
    const webhook = risk.webhook;
    if (!webhook) return;
    const url = new URL(webhook.url);
    const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && webhook.allowLoopbackHttp && loopback)) return;
    ctx.addIssue({ code: 'custom', path: ['webhook', 'url'], message: webhook.allowLoopbackHttp ? 'must be https, or http to a loopback address' : 'must be https' });
  })
  .prefault({});

/** One rule of a client's access policy: who (source), to what (destination), and what happens (action). */
export const accessRuleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"').describe('Named in the audit trail.'),
  source: z
    .strictObject({
      providers: z.array(z.string().min(1)).min(1).optional().describe('Upstream provider ids the user signed in with (any of).'),
      groups: z.array(z.string().min(1)).min(1).optional().describe('Groups the user is in (any of).'),
      networks: z.union([z.literal('trusted'), cidrList.min(1)]).optional().describe('"trusted" (risk.networks.trusted) or a CIDR list the client address must be in.'),
      workingHours: z.boolean().optional().describe('true: only inside risk.workingHours; false: only outside.'),
      minPosture: z.number().int().min(0).max(100).optional().describe('Device posture score at least this (a missing score fails).'),
    })
    .prefault({}),
  destination: z
    .strictObject({
      scopes: z.array(z.string().min(1)).min(1).optional().describe('Applies only when the request asks for one of these scopes.'),
    })
    .prefault({}),
  action: z.enum(['allow', 'deny']),
  minAcr: z.enum(ACR_VALUES).optional().describe('An allow that needs at least this acr (step-up when the session has less).'),
});

export const clientRiskSchema = z.strictObject({
  weights: weightsSchema.optional().describe("Weights for this client's sign-ins (over risk.weights)."),
  thresholds: thresholdsSchema.optional().describe('Thresholds for this client (instead of risk.thresholds).'),
  minAcr: z.enum(ACR_VALUES).optional().describe('Every sign-in to this client needs at least this acr (e.g. urn:vestibule:acr:mfa).'),
  accessPolicy: z
    .strictObject({ rules: z.array(accessRuleSchema).min(1) })
    .optional()
    .describe('First matching rule decides; once declared, anything no rule allows is denied.'),
});

export type RiskConfig = z.output<typeof riskConfigSchema>;
export type ClientRiskConfig = z.output<typeof clientRiskSchema>;
export type AccessRule = z.output<typeof accessRuleSchema>;
export type RiskWebhookConfig = z.output<typeof riskWebhookSchema>;
export type WorkingHours = z.output<typeof workingHoursSchema>;
export type Weights = Record<SignalName, number>;
export type Thresholds = z.output<typeof thresholdsSchema>;
