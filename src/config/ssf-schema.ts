// The `ssf` settings: Shared Signals Framework 1.0 receivers (upstreams that transmit CAEP events) and the broker's own transmitter.
import { z } from 'zod';

const httpUrl = z.string().refine((value) => URL.canParse(value) && ['https:', 'http:'].includes(new URL(value).protocol) && !new URL(value).hash, 'must be an absolute http(s) URL without a fragment');

/** What a CAEP event that lowers trust without revoking does: demand a step-up at the next interaction, or end the session. */
const trustPolicy = z.enum(['step_up', 'end']);

export const ssfReceiverSchema = z.strictObject({
  provider: z.string().min(1).describe('Id of the upstream provider (providers/*.json) that transmits; its sessions are the ones the events name.'),
  issuer: z.string().min(1).describe('The transmitter\'s issuer: the `iss` every SET must carry.'),
  jwksUri: httpUrl.describe('Where the transmitter publishes the keys its SETs are signed with.'),
  audience: z.string().min(1).optional().describe('The `aud` SETs must carry (default: the broker issuer).'),
  algorithms: z.array(z.enum(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])).min(1).default(['RS256', 'ES256']).describe('Accepted signature algorithms.'),
  push: z.boolean().default(true).describe('Accept push delivery (RFC 8935) at POST /ssf/push/<provider>.'),
  pushAuthorization: z.string().min(32, 'must be at least 32 characters').optional().describe('Authorization header value the transmitter must send with each push ("$ENV_NAME" recommended).'),
  pollUrl: httpUrl.optional().describe('Poll delivery (RFC 8936): the transmitter\'s poll endpoint, polled every pollIntervalSeconds.'),
  pollAuthorization: z.string().min(1).optional().describe('Authorization header value sent with each poll ("$ENV_NAME" recommended).'),
  pollIntervalSeconds: z.number().int().min(1).max(3600).default(30).describe('Time between two polls.'),
  maxAgeSeconds: z.number().int().min(10).max(86400).default(600).describe('SETs issued (iat) longer ago than this are refused as expired.'),
  onAssuranceLevelChange: trustPolicy.default('step_up').describe('CAEP assurance-level-change that lowers the level: step_up (next interaction) or end.'),
  onDeviceComplianceChange: trustPolicy.default('step_up').describe('CAEP device-compliance-change to not-compliant: step_up (next interaction) or end.'),
});

export const ssfTransmitterSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve /.well-known/ssf-configuration and the stream management API; push session-revoked and credential-change to the clients\' streams.'),
    pushTimeoutMs: z.number().int().min(100).max(60_000).default(5000).describe('Timeout of one push to a receiver\'s endpoint, ms.'),
    pushMaxResponseBytes: z.number().int().min(0).max(1024 * 1024).default(16 * 1024).describe('Largest answer read from a receiver\'s endpoint.'),
    pushRetrySeconds: z.array(z.number().int().positive()).max(10).default([1, 5, 30, 120, 600]).describe('Waits before the 2nd, 3rd, … push attempt; then the failure is audited and dropped.'),
    allowHttpEndpoints: z.boolean().default(false).describe('Accept http:// push endpoints (never in production).'),
    allowPrivateEndpoints: z.boolean().default(false).describe('Accept push endpoints that resolve to private, loopback or link-local addresses (receivers inside the cluster).'),
    maxStreamsPerClient: z.number().int().min(1).max(100).default(1).describe('Streams one client may create.'),
  })
  .prefault({});

export const ssfSchema = z
  .strictObject({
    receivers: z.array(ssfReceiverSchema).default([]).describe('Upstreams that transmit Shared Signals (CAEP) events to the broker.'),
    transmitter: ssfTransmitterSchema,
  })
  .prefault({});

export type SsfConfig = z.output<typeof ssfSchema>;
export type SsfReceiverConfig = z.output<typeof ssfReceiverSchema>;
export type SsfTransmitterConfig = z.output<typeof ssfTransmitterSchema>;
