// Redirect URI rules for configured clients, checked at load time so a bad URI fails `check-config`, not every sign-in.
//
// The rules (RFC 6749 section 3.1.2, RFC 8252 section 7, RFC 9700 section 2.1), the same in development and production:
// - an absolute URL, without spaces and without a fragment;
// - never javascript:, vbscript:, data:, blob:, file: or about:;
// - https: to any host;
// - http: only to localhost, 127.0.0.1 or [::1] (development, and native apps' loopback redirects);
// - any other scheme is a native app's private-use scheme and must be a reverse domain name (com.example.app:/cb).
// A client with a private-use-scheme redirect URI is a native app (issuer/clients.ts sets application_type "native"),
// and oidc-provider then refuses https to a loopback host; a web client may not return to a private-use scheme after logout.

const FORBIDDEN_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:']);
/** The loopback hosts oidc-provider accepts for http redirect URIs of native apps. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function parse(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** What is wrong with one redirect (or post-logout redirect) URI, or undefined when it is acceptable. */
export function redirectUriProblem(value: string): string | undefined {
  if (/[\s\x00-\x1f\x7f]/.test(value)) return 'must be an absolute URL without spaces or control characters';
  const url = parse(value);
  if (!url) return 'must be an absolute URL (https://host/path, or com.example.app:/path for a native app)';
  if (value.includes('#')) return 'must not contain a fragment (#)';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : 'must use https (http is only allowed to localhost, 127.0.0.1 or [::1])';
  }
  if (!url.protocol.slice(0, -1).includes('.')) {
    return `the private-use scheme "${url.protocol}" must be a reverse domain name, e.g. com.example.app:/callback (RFC 8252 section 7.1)`;
  }
  return undefined;
}

/** The same test issuer/clients.ts uses to choose application_type: any non-http(s) redirect URI makes a native app. */
export const isNativeApp = (redirectUris: readonly string[]) => !redirectUris.every((uri) => /^https?:/.test(uri));

export interface RedirectIssue {
  path: (string | number)[];
  message: string;
}

/** Problems that depend on the client as a whole (application type), for URIs that pass redirectUriProblem. */
export function clientRedirectIssues(redirectUris: readonly string[], postLogoutRedirectUris: readonly string[]): RedirectIssue[] {
  const issues: RedirectIssue[] = [];
  const native = isNativeApp(redirectUris);
  const lists = [
    ['redirectUris', redirectUris],
    ['postLogoutRedirectUris', postLogoutRedirectUris],
  ] as const;
  for (const [key, uris] of lists) {
    uris.forEach((uri, index) => {
      const url = redirectUriProblem(uri) ? undefined : parse(uri);
      if (!url) return;
      if (native && url.protocol === 'https:' && LOOPBACK_HOSTS.has(url.hostname)) {
        issues.push({ path: [key, index], message: 'a native app (private-use-scheme redirect URI) must not use https to a loopback host; use http://127.0.0.1:<port>/ (RFC 8252 section 7.3)' });
      }
      if (!native && key === 'postLogoutRedirectUris' && url.protocol !== 'https:' && url.protocol !== 'http:') {
        issues.push({ path: [key, index], message: 'a private-use scheme is only allowed for a native app (one whose redirectUris use such a scheme too)' });
      }
    });
  }
  return issues;
}
