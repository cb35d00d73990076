// bench/reverify's upstream, in its own process: a real oidc-provider that answers every request UPSTREAM_LATENCY_MS (10) late; prints its issuer, client and one refresh token.
import * as oidc from 'openid-client';
import { startTestUpstream } from '../test/helpers/upstream-oidc.js';

const latencyMs = Number(process.env.UPSTREAM_LATENCY_MS ?? 10);
const upstream = await startTestUpstream({
  rotateRefreshToken: false,
  ttl: { accessToken: 3600, refreshToken: 86400 },
  configure: (provider) =>
    provider.use(async (_ctx, next) => {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      await next();
    }),
});
// One code flow against itself: the refresh token every benchmark session re-verifies with (no rotation upstream).
const config = await oidc.discovery(new URL(upstream.issuer), upstream.clientId, upstream.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
const verifier = oidc.randomPKCECodeVerifier();
const state = oidc.randomState();
const nonce = oidc.randomNonce();
const url = oidc.buildAuthorizationUrl(config, {
  redirect_uri: upstream.callbackUrl,
  scope: 'openid email profile offline_access',
  prompt: 'consent',
  code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const callback = await upstream.browserLogin(url.href);
const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
process.stdout.write(`${JSON.stringify({ issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, refreshToken: tokens.refresh_token, sub: tokens.claims()?.sub })}\n`);
