// Development-only sample SAML IdP (samlify IdentityProvider) on a loopback port: login page, demo users, SSO and SLO.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as samlify from 'samlify';
import { generateSelfSigned } from '../connectors/saml-keys.js';
import { BINDING } from '../connectors/saml-metadata.js';
import { buildLogoutResponse, encodeMessage, newMessageId } from '../connectors/saml-request.js';
import { NS, attr, decodePostBinding, decodeRedirectBinding, escapeXml, is, optionalChild, parseUntrustedXml, textOf } from '../connectors/saml-xml.js';

export interface DemoSamlUser {
  username: string;
  password: string;
  email: string;
  name: string;
  groups: string[];
}

export const DEMO_SAML_USERS: DemoSamlUser[] = [
  { username: 'sam', password: 'sam-demo-password', email: 'sam@saml.demo', name: 'Sam L. Demo', groups: ['saml-users', 'admins'] },
  { username: 'ada', password: 'ada-demo-password', email: 'ada@saml.demo', name: 'Ada Lovelace', groups: ['saml-users'] },
];

export interface DemoSamlOptions {
  port: number;
  brokerIssuer: string;
  connectorId?: string;
  users?: DemoSamlUser[];
  /** Encrypt assertions (AES-256-GCM, RSA-OAEP) to the broker's SP encryption certificate. */
  encryptAssertions?: boolean;
  /** The IdP's clock (default Date.now): tests share the broker's fake clock so assertions are current for it. */
  now?: () => number;
  /** Where the broker's SP metadata comes from; default GET `${brokerIssuer}/saml/<connectorId>/metadata`. */
  spMetadata?: () => Promise<string>;
}

/** An AuthnRequest waiting for the user's sign-in (or answered at once when passive). */
interface PendingRequest {
  requestId: string;
  acsUrl: string;
  spEntityId: string;
  relayState?: string;
}

/** The demo IdP's session cookie: the browser's SessionIndex, so an IsPassive request can be answered without a page. */
const SESSION_COOKIE = 'demo_saml_idp_session';

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** A page of the demo IdP: phone-width viewport, a style and (optionally) a script allowed only by this response's CSP nonce. */
const page = (nonce: string, title: string, body: string, script = ''): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeXml(title)}</title>` +
  `<style nonce="${nonce}">body{font-family:system-ui,sans-serif;max-width:26rem;margin:1rem auto;padding:0 1rem;overflow-wrap:anywhere}label{display:block;margin:.75rem 0}input{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}button{margin-top:1rem;padding:.6rem 1rem;font-size:1rem}</style></head>` +
  `<body><main><h1>${escapeXml(title)}</h1>${body}</main>${script ? `<script nonce="${nonce}">${script}</script>` : ''}</body></html>`;

function readBody(req: IncomingMessage): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 2 * 1024 * 1024) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))));
    req.on('error', reject);
  });
}

/** Starts the demo IdP; `providerFile` is the providers/*.json entry the broker loads for it. */
export async function startDemoUpstreamSaml(options: DemoSamlOptions) {
  const connectorId = options.connectorId ?? 'demo-saml';
  const users = options.users ?? DEMO_SAML_USERS;
  const clock = options.now ?? Date.now;
  const keys = generateSelfSigned('vestibule-demo-saml-idp', Date.now());
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const entityId = `${base}/metadata`;
  const certBody = keys.certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
  const metadataXml =
    `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${entityId}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:SingleLogoutService Binding="${BINDING.redirect}" Location="${base}/slo"/>` +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="${BINDING.redirect}" Location="${base}/sso"/><md:SingleSignOnService Binding="${BINDING.post}" Location="${base}/sso"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`;
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    privateKey: keys.privateKeyPem,
    signingCert: keys.certPem,
    isAssertionEncrypted: options.encryptAssertions === true,
    dataEncryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
    keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    singleSignOnService: [{ Binding: BINDING.redirect, Location: `${base}/sso` }],
    singleLogoutService: [{ Binding: BINDING.redirect, Location: `${base}/slo` }],
  } as Parameters<typeof samlify.IdentityProvider>[0]);
  let sp: ReturnType<typeof samlify.ServiceProvider> | undefined;
  const serviceProvider = async () => {
    if (!sp) {
      const fetchMetadata = async () => {
        const response = await fetch(`${options.brokerIssuer}/saml/${connectorId}/metadata`);
        if (!response.ok) throw new Error(`broker SP metadata answered ${response.status}`);
        return response.text();
      };
      sp = samlify.ServiceProvider({ metadata: await (options.spMetadata ?? fetchMetadata)() } as Parameters<typeof samlify.ServiceProvider>[0]);
    }
    return sp;
  };
  const pending = new Map<string, PendingRequest>();
  /** IdP sessions: SessionIndex -> username (the browser holds the SessionIndex in its IdP cookie). */
  const sessions = new Map<string, string>();
  /** What each IsPassive request was answered, in order (the demo and tests read it). */
  const passiveAnswers: Array<'success' | 'no_passive'> = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', base);
    const nonce = randomBytes(16).toString('base64');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'`,
      });
      res.end(body);
    };
    /** The sign-in form; after a wrong password it says so and keeps the username, focus on Password. */
    const loginPage = (token: string, failedUsername?: string) =>
      page(
        nonce,
        'Demo SAML IdP — sign in',
        (failedUsername !== undefined ? '<p role="alert" id="login-error">Wrong username or password.</p>' : '') +
          `<form method="post" action="/login"><input type="hidden" name="token" value="${escapeXml(token)}">` +
          `<label>Username <input name="username" value="${escapeXml(failedUsername ?? '')}" autocomplete="username"${failedUsername === undefined ? ' autofocus' : ''}></label>` +
          `<label>Password <input name="password" type="password" value="" autocomplete="current-password"${failedUsername !== undefined ? ' autofocus aria-describedby="login-error"' : ''}></label>` +
          `<button type="submit">Sign in</button></form>` +
          `<p>Demo users: ${users.map((u) => `${escapeXml(u.username)} / ${escapeXml(u.password)}`).join(', ')}</p>`,
      );
    if (url.pathname === '/metadata') return send(200, 'application/samlmetadata+xml', metadataXml);
    /** Auto-POSTs a Response to the broker's ACS: an assertion for `user` (in IdP session `sessionIndex`), or a NoPassive status. */
    const answer = async (request: PendingRequest, signedIn: { user: DemoSamlUser; sessionIndex: string } | undefined) => {
      const now = clock();
      const iso = (ms: number) => new Date(ms).toISOString();
      const attribute = (name: string, values: string[]) =>
        `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
      const head = `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newMessageId()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${escapeXml(request.acsUrl)}" InResponseTo="${escapeXml(request.requestId)}"><saml:Issuer>${entityId}</saml:Issuer>`;
      let SAMLResponse: string;
      if (!signedIn) {
        // SAML 2.0 Core 3.4.1.4: IsPassive and the IdP cannot sign the user in without taking control of the browser.
        SAMLResponse = Buffer.from(`${head}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoPassive"/></samlp:StatusCode></samlp:Status></samlp:Response>`, 'utf8').toString('base64');
      } else {
        const { user, sessionIndex } = signedIn;
        const context =
          `${head}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
          `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="${NS.assertion}" ID="${newMessageId()}" Version="2.0" IssueInstant="${iso(now)}">` +
          `<saml:Issuer>${entityId}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${escapeXml(user.username)}</saml:NameID>` +
          `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(now + 300_000)}" Recipient="${escapeXml(request.acsUrl)}" InResponseTo="${escapeXml(request.requestId)}"/></saml:SubjectConfirmation></saml:Subject>` +
          `<saml:Conditions NotBefore="${iso(now - 30_000)}" NotOnOrAfter="${iso(now + 300_000)}"><saml:AudienceRestriction><saml:Audience>${escapeXml(request.spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
          `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${sessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
          `<saml:AttributeStatement>${attribute('email', [user.email])}${attribute('displayName', [user.name])}${attribute('groups', user.groups)}</saml:AttributeStatement>` +
          `</saml:Assertion></samlp:Response>`;
        const result = (await idp.createLoginResponse(await serviceProvider(), {} as never, 'post', {}, { customTagReplacement: () => ({ id: 'demo', context }), encryptThenSign: true } as never)) as { context: string };
        SAMLResponse = result.context;
      }
      const fields: Record<string, string> = { SAMLResponse, ...(request.relayState ? { RelayState: request.relayState } : {}) };
      return send(
        200,
        'text/html; charset=utf-8',
        page(
          nonce,
          'Demo SAML IdP — returning to the broker…',
          `<form method="post" action="${escapeXml(request.acsUrl)}" id="autopost">${Object.entries(fields)
            .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeXml(v)}">`)
            .join('')}<noscript><button type="submit">Continue to the broker</button></noscript></form>`,
          "document.getElementById('autopost').submit();",
        ),
      );
    };
    if (url.pathname === '/sso') {
      const params = req.method === 'POST' ? await readBody(req) : Object.fromEntries(url.searchParams);
      const xml = req.method === 'POST' ? decodePostBinding(params.SAMLRequest ?? '') : decodeRedirectBinding(params.SAMLRequest ?? '');
      const request = parseUntrustedXml(xml).documentElement!;
      if (!is(request, NS.protocol, 'AuthnRequest')) return send(400, 'text/plain', 'not an AuthnRequest');
      const metadata = (await serviceProvider()).entityMeta;
      const acsUrl = metadata.getAssertionConsumerService('post') as string;
      const issuer = optionalChild(request, NS.assertion, 'Issuer');
      if (attr(request, 'AssertionConsumerServiceURL') !== acsUrl || !issuer || textOf(issuer) !== metadata.getEntityID()) return send(400, 'text/plain', 'unknown SP or ACS');
      const authn: PendingRequest = { requestId: attr(request, 'ID') ?? '', acsUrl, spEntityId: metadata.getEntityID(), ...(params.RelayState ? { relayState: params.RelayState } : {}) };
      // IsPassive: answer at once from this browser's IdP session (ForceAuthn wins: the sign-in form).
      if (attr(request, 'IsPassive') === 'true' && attr(request, 'ForceAuthn') !== 'true') {
        const sessionIndex = cookieOf(req, SESSION_COOKIE);
        const user = users.find((u) => u.username === (sessionIndex !== undefined ? sessions.get(sessionIndex) : undefined));
        passiveAnswers.push(user ? 'success' : 'no_passive');
        return answer(authn, user && sessionIndex ? { user, sessionIndex } : undefined);
      }
      const token = randomBytes(16).toString('hex');
      pending.set(token, authn);
      return send(200, 'text/html; charset=utf-8', loginPage(token));
    }
    if (url.pathname === '/login' && req.method === 'POST') {
      const form = await readBody(req);
      const request = pending.get(form.token ?? '');
      const user = users.find((u) => u.username === form.username && u.password === form.password);
      if (!request) return send(400, 'text/plain', 'unknown or expired login');
      if (!user) return send(401, 'text/html; charset=utf-8', loginPage(form.token ?? '', form.username ?? ''));
      pending.delete(form.token ?? '');
      const sessionIndex = `_${randomBytes(8).toString('hex')}`;
      sessions.set(sessionIndex, user.username);
      res.setHeader('set-cookie', `${SESSION_COOKIE}=${sessionIndex}; Path=/; HttpOnly; SameSite=Lax`);
      return answer(request, { user, sessionIndex });
    }
    if (url.pathname === '/slo') {
      const encoded = url.searchParams.get('SAMLRequest');
      if (!encoded) return send(200, 'text/html; charset=utf-8', page(nonce, 'Signed out of the demo IdP', ''));
      const request = parseUntrustedXml(decodeRedirectBinding(encoded)).documentElement!;
      const index = optionalChild(request, NS.protocol, 'SessionIndex');
      if (index) sessions.delete(textOf(index));
      const sloUrl = `${options.brokerIssuer}/saml/${connectorId}/slo`;
      const xml = buildLogoutResponse({ id: newMessageId(), now: clock(), destination: sloUrl, spEntityId: entityId, inResponseTo: attr(request, 'ID') ?? '', statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success' });
      const relayState = url.searchParams.get('RelayState') ?? undefined;
      const message = encodeMessage(xml, 'SAMLResponse', 'redirect', sloUrl, relayState, keys) as { redirectUrl: string };
      res.writeHead(303, { location: message.redirectUrl });
      res.end();
      return;
    }
    send(404, 'text/plain', 'not found');
  };
  server.on('request', (req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`demo IdP error: ${error.message}`);
    });
  });

  const providerFile = {
    id: connectorId,
    type: 'saml' as const,
    name: 'Demo SAML IdP',
    domains: ['saml.demo'],
    config: { idp: { metadataXml }, signaturePolicy: 'either', claims: { static: { emailVerified: true } } },
  };
  return {
    url: base,
    entityId,
    metadataXml,
    providerFile,
    passiveAnswers,
    /** Ends every IdP session of the user (as an IdP-side sign-out would): the next IsPassive request answers NoPassive. */
    endSessionsOf(username: string): void {
      for (const [index, name] of sessions) if (name === username) sessions.delete(index);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
