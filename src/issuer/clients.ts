// Turns configured clients into oidc-provider client metadata (RFC 7591 names).
import { isNativeApp } from '../config/redirect-uri.js';
import type { ClientConfig } from '../config/schema.js';

export function clientMetadata(client: ClientConfig): Record<string, unknown> {
  const authMethod = client.public ? 'none' : (client.tokenEndpointAuthMethod ?? 'client_secret_basic');
  return {
    client_id: client.clientId,
    ...(client.clientSecret ? { client_secret: client.clientSecret } : {}),
    ...(client.name ? { client_name: client.name } : {}),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    // With a back-channel logout URI, ID tokens carry `sid` and logout tokens name the session (Back-Channel Logout 1.0 §2.2).
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', ...(client.deviceFlow ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])],
    token_endpoint_auth_method: authMethod,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    application_type: isNativeApp(client.redirectUris) ? 'native' : 'web',
    scope: client.scopes.join(' '),
    ...(client.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(client.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
  };
}
