// Declarative claim mapping shared by every connector: upstream claims/attributes -> Identity fields, plus the stable account id.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConnectorError, type Identity } from './connector.js';

/**
 * Where a value lives in the raw claims. A string is first looked up as a top-level key (so namespaced claims such as
 * "https://acme.example/groups" work), then as a dotted path ("realm_access.roles"). An array gives literal segments.
 */
export const claimPathSchema = z.union([
  z.string().min(1).max(256),
  z.array(z.string().min(1).max(256)).min(1).max(16),
]);
export type ClaimPath = z.output<typeof claimPathSchema>;

const domainSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/i, 'must be a domain name, optionally starting with "*." for subdomains')
  .transform((d) => d.toLowerCase());

export const claimMappingSchema = z
  .object({
    /** Path of the upstream's stable subject. Default "sub". */
    subject: claimPathSchema.default('sub'),
    /** Path of the e-mail address. Default "email". */
    email: claimPathSchema.default('email'),
    /** Path of the e-mail-verified flag (boolean or "true"/"false"). Default "email_verified". */
    emailVerified: claimPathSchema.default('email_verified'),
    /** Path of the display name. Default "name". */
    name: claimPathSchema.default('name'),
    /** Path of the group list (array of strings or one string). Default "groups". */
    groups: claimPathSchema.default('groups'),
    /** Fixed values: email/emailVerified/name replace the mapped value; groups are added after filtering. */
    static: z
      .object({
        email: z.string().min(3).max(320).optional(),
        emailVerified: z.boolean().optional(),
        name: z.string().min(1).max(256).optional(),
        groups: z.array(z.string().min(1).max(256)).max(256).optional(),
      })
      .strict()
      .default({}),
    /** Keep only these upstream groups; an entry ending in "*" keeps every group starting with what precedes it. */
    allowedGroups: z.array(z.string().min(1).max(256)).max(1024).optional(),
    /** Prepended to every upstream group that passes the allow-list (e.g. "acme:"). */
    groupPrefix: z.string().max(64).default(''),
    /** Refuse identities whose e-mail domain is not listed ("acme.com", or "*.acme.com" for its subdomains). */
    allowedEmailDomains: z.array(domainSchema).min(1).max(256).optional(),
    /** Refuse identities whose e-mail is not marked verified (after static values apply). */
    requireVerifiedEmail: z.boolean().default(false),
  })
  .strict();

export type ClaimMapping = z.output<typeof claimMappingSchema>;
export type ClaimMappingInput = z.input<typeof claimMappingSchema>;

/** The default mapping (standard OIDC claim names, no filters). */
export const defaultClaimMapping: ClaimMapping = claimMappingSchema.parse({});

const MAX_GROUPS = 1024;

/** Reads the value at `path`; undefined when any segment is missing. */
export function readClaim(raw: Record<string, unknown>, path: ClaimPath): unknown {
  if (typeof path === 'string' && Object.hasOwn(raw, path)) return raw[path];
  const segments = typeof path === 'string' ? path.split('.') : path;
  let current: unknown = raw;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

function asStringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.length > 0 ? [value] : [];
  if (!Array.isArray(value)) return undefined;
  return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
}

/** True when `group` passes the allow-list (exact names, or "prefix*" entries). */
export function groupAllowed(group: string, allowed: readonly string[] | undefined): boolean {
  if (!allowed) return true;
  return allowed.some((entry) => (entry.endsWith('*') ? group.startsWith(entry.slice(0, -1)) : group === entry));
}

/** The lower-cased domain of an e-mail address, or undefined when it is not of the form local@domain. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return undefined;
  return email.slice(at + 1).toLowerCase();
}

/** True when `domain` is listed, or is a subdomain of a "*.example.com" entry. */
export function domainAllowed(domain: string, allowed: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return allowed.some((entry) => (entry.startsWith('*.') ? d.endsWith(entry.slice(1)) : d === entry));
}

/** The Identity fields a mapping produces from raw claims. */
export interface MappedClaims {
  subject?: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  groups?: string[];
}

/** Raw claims -> identity fields (no filtering, no fallbacks; absent claims stay undefined). */
export function mapClaims(raw: Record<string, unknown>, mapping: ClaimMapping): MappedClaims {
  return {
    subject: asString(readClaim(raw, mapping.subject)),
    email: mapping.static.email ?? asString(readClaim(raw, mapping.email)),
    emailVerified: mapping.static.emailVerified ?? asBoolean(readClaim(raw, mapping.emailVerified)),
    name: mapping.static.name ?? asString(readClaim(raw, mapping.name)),
    groups: asStringList(readClaim(raw, mapping.groups)),
  };
}

/**
 * Applies the mapping to an identity's raw claims. Mapped values win; where a claim is absent the value the connector
 * already put on the identity is kept (e.g. the SAML NameID as subject). Then groups are filtered, prefixed and extended
 * with static groups, and the e-mail filters run. Throws ConnectorError with a stable code when the identity is refused.
 */
export function mapIdentity(identity: Identity, mapping: ClaimMapping): Identity {
  const mapped = mapClaims(identity.rawClaims, mapping);
  const subject = mapped.subject ?? identity.subject;
  if (!subject) {
    throw new ConnectorError('missing_subject', `upstream identity has no subject at ${JSON.stringify(mapping.subject)}`, {
      status: 502,
    });
  }
  if (subject.length > 1024) {
    throw new ConnectorError('invalid_subject', 'upstream subject is longer than 1024 characters', { status: 502 });
  }
  const email = mapped.email ?? identity.email;
  const emailVerified = mapped.emailVerified ?? identity.emailVerified;
  const upstreamGroups = (mapped.groups ?? identity.groups).slice(0, MAX_GROUPS);
  const groups = [
    ...new Set([
      ...upstreamGroups.filter((g) => groupAllowed(g, mapping.allowedGroups)).map((g) => mapping.groupPrefix + g),
      ...(mapping.static.groups ?? []),
    ]),
  ];

  if (mapping.allowedEmailDomains) {
    const domain = email === undefined ? undefined : emailDomain(email);
    if (domain === undefined || !domainAllowed(domain, mapping.allowedEmailDomains)) {
      throw new ConnectorError(
        'email_domain_not_allowed',
        domain === undefined ? 'upstream identity has no usable e-mail address' : `e-mail domain ${domain} is not allowed`,
        { status: 403 },
      );
    }
  }
  if (mapping.requireVerifiedEmail && (email === undefined || emailVerified !== true)) {
    throw new ConnectorError('email_not_verified', 'upstream did not assert a verified e-mail address', { status: 403 });
  }

  const result: Identity = { ...identity, subject, groups };
  if (email !== undefined) result.email = email;
  else delete result.email;
  if (emailVerified !== undefined) result.emailVerified = emailVerified;
  else delete result.emailVerified;
  const name = mapped.name ?? identity.name;
  if (name !== undefined) result.name = name;
  else delete result.name;
  return result;
}

/**
 * The broker's account id for an upstream subject: base64url SHA-256 over a length-prefixed (connectorId, subject)
 * pair, so ("a", "bc") and ("ab", "c") never collide. Stable across e-mail changes; never derived from the e-mail.
 */
export function accountIdFor(connectorId: string, subject: string): string {
  const hash = createHash('sha256');
  hash.update('vestibule-account-v1\0');
  for (const part of [connectorId, subject]) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  }
  return hash.digest('base64url');
}
