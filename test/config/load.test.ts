// Configuration loading: every problem reported with its JSON path in one run; production refuses development defaults.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider, { type ClientMetadata } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/issues.js';
import { loadConfig } from '../../src/config/load.js';
import { clientMetadata } from '../../src/issuer/clients.js';
import { generateSigningJwks } from '../../src/issuer/keys.js';
import { protocolSettings } from '../../src/issuer/provider.js';
import { localProvider } from '../helpers/broker.js';
import { configProblems } from '../helpers/config.js';

const client = { clientId: 'app', clientSecret: 'x'.repeat(40), redirectUris: ['https://app.example.com/cb'] };

const problems = (file: Record<string, unknown>, env: Record<string, string> = {}, cwd?: string): Promise<string[]> => configProblems(() => loadConfig({ env, file: { providersDir: 'test/fixtures/no-providers', ...file }, cwd }));

describe('loadConfig', () => {
  it('accepts a minimal configuration and fills documented defaults', async () => {
    const config = await loadConfig({ env: {}, file: { providersDir: 'test/fixtures/no-providers', clients: [client], providers: [await localProvider()] } });
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.port).toBe(3000);
    expect(config.session.reverifyIntervalSeconds).toBe(900);
    expect(config.tokens.accessTokenTtl).toBe(600);
    expect(config.store).toEqual({ type: 'memory' });
    expect(config.providers.map((p) => p.id)).toEqual(['local']);
    expect(config.warnings.length).toBeGreaterThan(0);
  });

  it('reports a bad issuer URL by its path', async () => {
    expect(await problems({ issuer: 'not a url' })).toEqual([expect.stringMatching(/^issuer: /)]);
  });

  it('requires the issuer in production', async () => {
    const list = await problems({}, { NODE_ENV: 'production' });
    expect(list).toEqual(expect.arrayContaining([expect.stringMatching(/^issuer: required/)]));
  });

  it('reports a duplicate client id at the second occurrence', async () => {
    expect(await problems({ clients: [client, client] })).toEqual([expect.stringMatching(/^clients\[1\]\.clientId: duplicate client id "app"/)]);
  });

  it('refuses a redirect URI that is not absolute', async () => {
    expect(await problems({ clients: [{ ...client, redirectUris: ['/cb'] }] })).toEqual([expect.stringMatching(/^clients\[0\]\.redirectUris\[0\]: must be an absolute URL/)]);
  });

  describe('redirect URIs', () => {
    const nativeApp = { clientId: 'app', public: true, redirectUris: ['com.example.app:/oauth2redirect'] };
    const refused: [string, RegExp][] = [
      ['javascript:alert(document.cookie)', /must not use the javascript: scheme/],
      ['data:text/html,<script>alert(1)</script>', /must not use the data: scheme|without spaces/],
      ['data:text/html;base64,PHNjcmlwdD4=', /must not use the data: scheme/],
      ['vbscript:msgbox(1)', /must not use the vbscript: scheme/],
      ['file:///etc/passwd', /must not use the file: scheme/],
      ['https://app.example.com/cb#top', /must not contain a fragment/],
      ['https://app.example.com/cb#', /must not contain a fragment/],
      ['http://app.example.com/cb', /must use https \(http is only allowed to localhost, 127\.0\.0\.1 or \[::1\]\)/],
      ['myapp:/cb', /private-use scheme "myapp:" must be a reverse domain name/],
      [' https://app.example.com/cb', /without spaces/],
      ['/cb', /must be an absolute URL/],
    ];
    it.each(refused)('refuses %s as a redirect URI and as a post-logout redirect URI, naming the path', async (uri, message) => {
      const list = await problems({ clients: [{ ...client, redirectUris: ['https://app.example.com/ok', uri], postLogoutRedirectUris: [uri] }] });
      expect(list).toEqual([expect.stringMatching(/^clients\[0\]\.redirectUris\[1\]: /), expect.stringMatching(/^clients\[0\]\.postLogoutRedirectUris\[0\]: /)]);
      for (const problem of list) expect(problem).toMatch(message);
    });

    it('refuses https to a loopback host for a native app, and a private-use post-logout URI for a web client', async () => {
      const list = await problems({
        clients: [
          { ...nativeApp, redirectUris: ['com.example.app:/cb', 'https://localhost/cb'] },
          { ...client, clientId: 'web', postLogoutRedirectUris: ['com.example.app:/bye'] },
        ],
      });
      expect(list).toEqual([
        expect.stringMatching(/^clients\[0\]\.redirectUris\[1\]: a native app .* must not use https to a loopback host/),
        expect.stringMatching(/^clients\[1\]\.postLogoutRedirectUris\[0\]: a private-use scheme is only allowed for a native app/),
      ]);
    });

    it('accepts https, loopback http and a native app\'s reverse-domain scheme, and oidc-provider accepts them too', async () => {
      const clients = [
        { ...client, clientId: 'web', redirectUris: ['https://app.example.com/cb?tenant=1', 'http://localhost:8080/cb', 'http://127.0.0.1/cb', 'http://[::1]:9/cb'], postLogoutRedirectUris: ['https://app.example.com/'] },
        { ...nativeApp, clientId: 'native', redirectUris: ['com.example.app:/oauth2redirect', 'http://127.0.0.1/callback', 'https://app.example.com/native-cb'], postLogoutRedirectUris: ['com.example.app:/bye'] },
      ];
      const config = await loadConfig({ env: {}, file: { providersDir: 'test/fixtures/no-providers', clients } });
      const provider = new Provider(config.issuer, { ...protocolSettings(config.tokens, config.cookieKeys), jwks: (await generateSigningJwks()) as never });
      for (const parsed of config.clients) await expect(provider.Client.validate(clientMetadata(parsed) as ClientMetadata)).resolves.toBeUndefined();
    });

    it('refused URIs are refused by oidc-provider as well (so without the check every sign-in would fail)', async () => {
      const provider = new Provider('http://localhost:3000');
      const metadata: ClientMetadata = { client_id: 'x', client_secret: 'x'.repeat(40), response_types: ['code'], grant_types: ['authorization_code'] };
      await expect(provider.Client.validate({ ...metadata, application_type: 'native', redirect_uris: ['javascript:alert(1)'] })).rejects.toMatchObject({ error_description: expect.stringMatching(/javascript URI scheme/) });
      await expect(provider.Client.validate({ ...metadata, redirect_uris: ['https://app.example.com/cb', 'data:text/html,x'] })).rejects.toMatchObject({ error_description: expect.stringMatching(/web uris/) });
    });
  });

  it('refuses an unknown connector type, naming the provider and the known types', async () => {
    const list = await problems({ providers: [{ id: 'x', type: 'kerberos', name: 'X', config: {} }] });
    expect(list).toEqual([expect.stringMatching(/^providers\[0\]: type: unknown connector type "kerberos" \(known: .*local.*\)/)]);
  });

  it('reports an unset "$ENV" secret with its path', async () => {
    const list = await problems({ clients: [{ ...client, clientSecret: '$APP_SECRET' }] });
    expect(list).toEqual([expect.stringMatching(/^clients\[0\]\.clientSecret: environment variable APP_SECRET is not set/)]);
  });

  it('resolves "$ENV" from NAME and from NAME_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-config-'));
    writeFileSync(join(dir, 'secret'), `${'s'.repeat(40)}\n`);
    const fromFile = await loadConfig({ env: { APP_SECRET_FILE: join(dir, 'secret') }, file: { providersDir: 'test/fixtures/no-providers', clients: [{ ...client, clientSecret: '$APP_SECRET' }] } });
    expect(fromFile.clients[0]!.clientSecret).toBe('s'.repeat(40));
    const direct = await loadConfig({ env: { APP_SECRET: 'd'.repeat(40) }, file: { providersDir: 'test/fixtures/no-providers', clients: [{ ...client, clientSecret: '$APP_SECRET' }] } });
    expect(direct.clients[0]!.clientSecret).toBe('d'.repeat(40));
  });

  it('reports every problem of one configuration in one run', async () => {
    const list = await problems({
      issuer: 'ftp://nope?x=1',
      port: 70000,
      clients: [client, { ...client, redirectUris: ['relative'] }, { ...client, clientId: 'b', clientSecret: '$UNSET_SECRET' }],
      providers: [{ id: 'x', type: 'nope', name: 'X', config: {} }, { id: 'Bad Id', type: 'local', name: 'L', config: {} }],
    });
    const paths = list.map((p) => p.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining(['issuer', 'port', 'clients[1].clientId', 'clients[1].redirectUris[0]', 'clients[2].clientSecret']));
    expect(list.length).toBeGreaterThanOrEqual(5);
  });

  it('reports provider file problems with the file name and the config path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-providers-'));
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    writeFileSync(join(dir, 'okta.json'), JSON.stringify({ id: 'okta', type: 'local', name: 'Okta', config: { users: [{ username: 'a', passwordHash: 'plain' }] } }));
    writeFileSync(join(dir, 'README.md'), 'ignored');
    const list = await problems({ providersDir: dir });
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/broken\.json: invalid JSON/),
        expect.stringMatching(/okta\.json: config\.users\[0\]\.passwordHash: must be an argon2id hash/),
      ]),
    );
  });

  it('reports main-file and provider-file problems in one run: the README example, word for word', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-readme-'));
    mkdirSync(join(dir, 'providers'));
    const intranet = { ...client, clientId: 'intranet' };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ issuer: 'ftp://sso.example.com?x=1', clients: [intranet, intranet] }));
    writeFileSync(
      join(dir, 'providers', 'okta.json'),
      JSON.stringify({ id: 'okta', type: 'oidc', name: 'Okta', config: { issuer: 'https://acme.okta.com/oauth2/default', clientId: '0oa1', clientSecret: '$OKTA_SECRET' } }),
    );
    const error = await loadConfig({ env: { BROKER_CONFIG: join(dir, 'config.json') } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const readme = readFileSync('README.md', 'utf8');
    const example = /```\n(vestibule: invalid configuration \(3 problems\):\n[^`]*)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    expect(`vestibule: ${(error as ConfigError).message}\n`).toBe(example);
  });

  it('reports environment, main-file, inline-provider and production problems together, each once', async () => {
    const list = await problems(
      { port: 'eighty', clients: [{ ...client, redirectUris: ['relative'] }], providers: [{ id: 'x', type: 'local', name: 'X', config: { users: '$LOCAL_USERS' } }] },
      { NODE_ENV: 'production', LOG_LEVEL: 'loud' },
    );
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^port: /),
        expect.stringMatching(/^logLevel: /),
        expect.stringMatching(/^clients\[0\]\.redirectUris\[0\]: /),
        'providers[0]: config.users: environment variable LOCAL_USERS is not set (nor LOCAL_USERS_FILE)',
        expect.stringMatching(/^cookieKeys: required when NODE_ENV=production/),
        expect.stringMatching(/^store: the memory store is refused/),
      ]),
    );
    expect(list.filter((problem) => problem.includes('LOCAL_USERS'))).toHaveLength(1);
    expect(new Set(list).size).toBe(list.length);
  });

  it('reports a duplicate client id even when another setting has the wrong type', async () => {
    const list = await problems({ port: 'eighty', clients: [client, client] });
    expect(list).toEqual([expect.stringMatching(/^port: /), expect.stringMatching(/^clients\[1\]\.clientId: duplicate client id "app"/)]);
  });

  it('refuses an allowedProviders entry that names no provider', async () => {
    const list = await problems({ clients: [{ ...client, allowedProviders: ['ghost'] }], providers: [await localProvider()] });
    expect(list).toEqual([expect.stringMatching(/^clients\[0\]\.allowedProviders\[0\]: no provider with id "ghost"/)]);
  });

  it('refuses development defaults in production, naming each', async () => {
    const list = await problems({ issuer: 'https://sso.example.com', clients: [client] }, { NODE_ENV: 'production' });
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^cookieKeys: required when NODE_ENV=production/),
        expect.stringMatching(/^vaultKeys: required/),
        expect.stringMatching(/^store: the memory store is refused/),
      ]),
    );
  });

  it('refuses the built-in development configuration in production', async () => {
    await expect(loadConfig({ env: { NODE_ENV: 'production' } })).rejects.toThrow(/BROKER_CONFIG: required when NODE_ENV=production/);
  });

  it('lets environment variables override the file and validates them', async () => {
    const config = await loadConfig({ env: { PORT: '4000', ISSUER: 'https://id.example.com/', REVERIFY_INTERVAL_SECONDS: '60' }, file: { providersDir: 'test/fixtures/no-providers' } });
    expect(config.port).toBe(4000);
    expect(config.issuer).toBe('https://id.example.com');
    expect(config.session.reverifyIntervalSeconds).toBe(60);
    expect(await problems({}, { PORT: 'eighty' })).toEqual([expect.stringMatching(/^PORT: must be a whole number/)]);
  });

  it('reads the file named by BROKER_CONFIG and reports invalid JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-file-'));
    writeFileSync(join(dir, 'bad.json'), '{"issuer": ');
    await expect(loadConfig({ env: { BROKER_CONFIG: join(dir, 'bad.json') } })).rejects.toThrow(/BROKER_CONFIG=.*bad\.json: invalid JSON/);
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ issuer: 'https://sso.example.com', providersDir: 'none', clients: [client] }));
    const config = await loadConfig({ env: { BROKER_CONFIG: join(dir, 'good.json') } });
    expect(config.issuer).toBe('https://sso.example.com');
    expect(config.demo).toBe(false);
  });

  it('resolves a relative auditLog like jwksFile and providersDir: against the configuration file\'s directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-paths-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ providersDir: 'none', jwksFile: 'keys/jwks.json', auditLog: 'logs/audit.jsonl' }));
    const fromFile = await loadConfig({ env: { BROKER_CONFIG: join(dir, 'config.json') } });
    expect(fromFile.jwksFile).toBe(join(dir, 'keys/jwks.json'));
    expect(fromFile.auditLog).toBe(join(dir, 'logs/audit.jsonl'));
    const fromEnv = await loadConfig({ env: { BROKER_CONFIG: join(dir, 'config.json'), AUDIT_LOG: 'other.jsonl', JWKS_FILE: 'other.json' } });
    expect(fromEnv.auditLog).toBe(join(dir, 'other.jsonl'));
    expect(fromEnv.jwksFile).toBe(join(dir, 'other.json'));
    const inline = await loadConfig({ env: {}, cwd: dir, file: { providersDir: 'none', auditLog: 'audit.jsonl' } });
    expect(inline.auditLog).toBe(join(dir, 'audit.jsonl'));
    for (const keyword of ['stdout', 'off', '/var/log/vestibule/audit.jsonl']) {
      expect((await loadConfig({ env: { AUDIT_LOG: keyword }, cwd: dir, file: { providersDir: 'none' } })).auditLog).toBe(keyword);
    }
  });

  it('starts the development configuration with generated demo users and the demo client', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.demo).toBe(true);
    expect(config.demoCredentials?.users.map((u) => u.username)).toEqual(['alice', 'bob']);
    expect(config.clients.map((c) => c.clientId)).toContain('demo-app');
    const again = await loadConfig({ env: {} });
    expect(again.demoCredentials?.users[0]!.password).not.toBe(config.demoCredentials?.users[0]!.password);
  });
});
