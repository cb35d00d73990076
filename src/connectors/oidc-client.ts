// Builds the openid-client Configuration of an upstream: discovery or explicit endpoints, client authentication, checks.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as client from 'openid-client';
import { importJWK, importPKCS8, type JWK } from 'jose';
import type { OidcConfig } from './oidc-config.js';
import { issuerMismatch } from './oidc-errors.js';

/** The client authentication method for the token endpoint, with the private key loaded for private_key_jwt. */
export async function buildClientAuth(config: OidcConfig, baseDir: string): Promise<client.ClientAuth> {
  switch (config.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(config.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    case 'private_key_jwt':
      return client.PrivateKeyJwt(await loadPrivateKey(config, baseDir));
  }
}

async function loadPrivateKey(config: OidcConfig, baseDir: string): Promise<client.PrivateKey> {
  let jwk: Record<string, unknown> | undefined = config.privateKeyJwk;
  let pem: string | undefined;
  if (!jwk && config.privateKeyFile) {
    const text = await readFile(resolve(baseDir, config.privateKeyFile), 'utf8');
    if (text.trimStart().startsWith('{')) jwk = JSON.parse(text) as Record<string, unknown>;
    else pem = text;
  }
  const alg = config.privateKeyAlg ?? (typeof jwk?.alg === 'string' ? jwk.alg : 'RS256');
  const key = jwk ? await importJWK(jwk as JWK, alg) : await importPKCS8(pem ?? '', alg);
  if (key instanceof Uint8Array || key.type !== 'private') {
    throw new Error('privateKeyJwk/privateKeyFile must hold an asymmetric private key');
  }
  const kid = config.privateKeyKid ?? (typeof jwk?.kid === 'string' ? jwk.kid : undefined);
  return kid ? { key, kid } : { key };
}

/**
 * Discovers the upstream (or uses explicit endpoints) and returns a Configuration that verifies ID token signatures
 * (non-repudiation checks), accepts only the configured algorithms and times out every call after `timeoutMs`.
 * `fetchImpl` makes every call of the Configuration, discovery included (the metrics time it).
 */
export async function buildConfiguration(config: OidcConfig, clientAuth: client.ClientAuth, timeoutMs: number, fetchImpl?: typeof fetch): Promise<client.Configuration> {
  const metadata: Partial<client.ClientMetadata> = {
    // oauth4webapi accepts a list here at runtime (an allow-list); its type only names the single-value form.
    id_token_signed_response_alg: config.idTokenSigningAlgs as unknown as string,
    [client.clockTolerance]: config.clockToleranceSec,
  };
  if (config.clientSecret !== undefined) metadata.client_secret = config.clientSecret;
  const execute: ((c: client.Configuration) => void)[] = [client.enableNonRepudiationChecks];
  if (config.allowInsecureRequests) execute.push(client.allowInsecureRequests);
  const timeout = timeoutMs / 1000;
  // CustomFetch's body type (FetchBody) differs from the DOM lib's BodyInit only in typing; fetch takes both.
  const customFetch = fetchImpl as client.CustomFetch | undefined;

  if (!config.endpoints) {
    const discovered = await client.discovery(new URL(config.issuer), config.clientId, metadata, clientAuth, { execute, timeout, ...(customFetch ? { [client.customFetch]: customFetch } : {}) });
    // openid-client compares the issuers as parsed URLs ("https://idp" equals "https://idp/"); Discovery 1.0 section 4.3 says identical.
    if (discovered.serverMetadata().issuer !== config.issuer) throw issuerMismatch(config.issuer, discovered.serverMetadata().issuer);
    return discovered;
  }
  const server: client.ServerMetadata = {
    issuer: config.issuer,
    authorization_endpoint: config.endpoints.authorization,
    token_endpoint: config.endpoints.token,
    jwks_uri: config.endpoints.jwks,
    authorization_response_iss_parameter_supported: config.endpoints.issParameterSupported,
    code_challenge_methods_supported: ['S256'],
    ...(config.endpoints.userinfo ? { userinfo_endpoint: config.endpoints.userinfo } : {}),
    ...(config.endpoints.endSession ? { end_session_endpoint: config.endpoints.endSession } : {}),
  };
  const configuration = new client.Configuration(server, config.clientId, metadata, clientAuth);
  configuration.timeout = timeout;
  if (customFetch) configuration[client.customFetch] = customFetch;
  for (const extension of execute) extension(configuration);
  return configuration;
}
