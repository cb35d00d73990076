// Unit tests for the declarative claim mapping and the stable account id.
import { describe, expect, it } from 'vitest';
import {
  accountIdFor,
  claimMappingSchema,
  defaultClaimMapping,
  mapClaims,
  mapIdentity,
  readClaim,
} from '../../src/connectors/claims.js';
import { ConnectorError, type Identity } from '../../src/connectors/connector.js';

function identity(rawClaims: Record<string, unknown>, extra: Partial<Identity> = {}): Identity {
  return { connectorId: 'acme', subject: '', groups: [], amr: [], rawClaims, ...extra };
}

function refusal(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('expected a ConnectorError');
}

describe('readClaim', () => {
  it('reads top-level keys, dotted paths, namespaced keys and literal segments', () => {
    const raw = {
      sub: 'u1',
      realm_access: { roles: ['a', 'b'] },
      'https://acme.example/groups': ['x'],
      'weird.key': { inner: 1 },
    };
    expect(readClaim(raw, 'sub')).toBe('u1');
    expect(readClaim(raw, 'realm_access.roles')).toEqual(['a', 'b']);
    expect(readClaim(raw, 'https://acme.example/groups')).toEqual(['x']);
    expect(readClaim(raw, ['weird.key', 'inner'])).toBe(1);
    expect(readClaim(raw, 'realm_access.missing')).toBeUndefined();
    expect(readClaim(raw, 'sub.length')).toBeUndefined();
  });

  it('does not walk into inherited properties', () => {
    expect(readClaim({}, 'constructor')).toBeUndefined();
    expect(readClaim({ a: {} }, 'a.__proto__')).toBeUndefined();
  });
});

describe('claimMappingSchema', () => {
  it('fills documented defaults', () => {
    expect(defaultClaimMapping).toMatchObject({
      subject: 'sub',
      email: 'email',
      emailVerified: 'email_verified',
      name: 'name',
      groups: 'groups',
      groupPrefix: '',
      requireVerifiedEmail: false,
    });
  });

  it('names unknown and invalid fields', () => {
    const result = claimMappingSchema.safeParse({ emial: 'mail', allowedEmailDomains: ['not a domain'] });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.') || i.message);
    expect(paths.join(' ')).toContain('allowedEmailDomains.0');
    expect(JSON.stringify(result.error!.issues)).toContain('emial');
  });

  it('lower-cases allowed domains', () => {
    expect(claimMappingSchema.parse({ allowedEmailDomains: ['ACME.com'] }).allowedEmailDomains).toEqual(['acme.com']);
  });
});

describe('mapClaims', () => {
  it('maps standard OIDC claims and coerces string booleans and numeric subjects', () => {
    expect(
      mapClaims({ sub: 42, email: 'a@acme.com', email_verified: 'true', name: 'Alice', groups: 'admins' }, defaultClaimMapping),
    ).toEqual({ subject: '42', email: 'a@acme.com', emailVerified: true, name: 'Alice', groups: ['admins'] });
  });

  it('ignores values of the wrong type', () => {
    expect(mapClaims({ sub: { x: 1 }, email: 5n as unknown, email_verified: 'yes', groups: [1, 'g', null] }, defaultClaimMapping)).toEqual({
      subject: undefined,
      email: undefined,
      emailVerified: undefined,
      name: undefined,
      groups: ['g'],
    });
  });
});

describe('mapIdentity', () => {
  it('maps custom paths, filters and prefixes groups, and adds static values', () => {
    const mapping = claimMappingSchema.parse({
      subject: 'oid',
      email: 'upn',
      groups: 'realm_access.roles',
      allowedGroups: ['admins', 'team-*'],
      groupPrefix: 'acme:',
      static: { emailVerified: true, groups: ['employees'] },
    });
    const out = mapIdentity(
      identity({ oid: 'o-1', upn: 'bob@acme.com', realm_access: { roles: ['admins', 'team-red', 'offline_access', 'admins'] } }),
      mapping,
    );
    expect(out.subject).toBe('o-1');
    expect(out.email).toBe('bob@acme.com');
    expect(out.emailVerified).toBe(true);
    expect(out.groups).toEqual(['acme:admins', 'acme:team-red', 'employees']);
    expect(out.connectorId).toBe('acme');
  });

  it('keeps what the connector set when the claim is absent (e.g. SAML NameID)', () => {
    const out = mapIdentity(identity({ mail: 'c@acme.com' }, { subject: 'name-id', groups: ['g1'] }), claimMappingSchema.parse({ email: 'mail' }));
    expect(out.subject).toBe('name-id');
    expect(out.email).toBe('c@acme.com');
    expect(out.groups).toEqual(['g1']);
  });

  it('refuses an identity without a subject', () => {
    expect(refusal(() => mapIdentity(identity({ email: 'a@acme.com' }), defaultClaimMapping)).code).toBe('missing_subject');
  });

  it('refuses e-mail domains outside the allow-list, and identities without e-mail', () => {
    const mapping = claimMappingSchema.parse({ allowedEmailDomains: ['acme.com', '*.corp.example'] });
    expect(mapIdentity(identity({ sub: '1', email: 'a@ACME.com' }), mapping).email).toBe('a@ACME.com');
    expect(mapIdentity(identity({ sub: '1', email: 'a@eu.corp.example' }), mapping).subject).toBe('1');
    for (const email of ['a@evil.com', 'a@acme.com.evil.com', 'a@notacme.com', 'a@corp.example', 'acme.com', 'a@acme.com@evil.com']) {
      const err = refusal(() => mapIdentity(identity({ sub: '1', email }), mapping));
      expect(err.code).toBe('email_domain_not_allowed');
      expect(err.status).toBe(403);
    }
    expect(refusal(() => mapIdentity(identity({ sub: '1' }), mapping)).code).toBe('email_domain_not_allowed');
  });

  it('refuses unverified e-mail when required', () => {
    const mapping = claimMappingSchema.parse({ requireVerifiedEmail: true });
    expect(refusal(() => mapIdentity(identity({ sub: '1', email: 'a@acme.com', email_verified: false }), mapping)).code).toBe(
      'email_not_verified',
    );
    expect(refusal(() => mapIdentity(identity({ sub: '1', email: 'a@acme.com' }), mapping)).code).toBe('email_not_verified');
    expect(mapIdentity(identity({ sub: '1', email: 'a@acme.com', email_verified: true }), mapping).emailVerified).toBe(true);
  });
});

describe('accountIdFor', () => {
  it('is stable, url-safe and independent of anything but (connectorId, subject)', () => {
    const id = accountIdFor('acme', 'user-1');
    expect(id).toBe(accountIdFor('acme', 'user-1'));
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(id).not.toBe(accountIdFor('other', 'user-1'));
    expect(id).not.toBe(accountIdFor('acme', 'user-2'));
  });

  it('length-prefixes its parts so concatenations do not collide', () => {
    expect(accountIdFor('ab', 'c')).not.toBe(accountIdFor('a', 'bc'));
    expect(accountIdFor('a\0', 'b')).not.toBe(accountIdFor('a', '\0b'));
  });

  it('never contains the e-mail', () => {
    expect(accountIdFor('acme', 'alice@acme.com')).not.toContain('alice');
  });
});
