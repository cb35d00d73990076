// The deployment recipes (deploy/k8s/*.yaml, docker-compose.yml, Dockerfile) parse and agree with the configuration reference: every variable they set is a documented setting, probe paths answer, ports and selectors match, docker-compose accepts the file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { ENV_OVERRIDES, loadConfig } from '../../src/config/load.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const K8S = 'deploy/k8s';
const docs: Doc[] = readdirSync(K8S)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((doc) => {
      expect(doc.errors, file).toEqual([]);
      return doc.toJS() as Doc;
    }),
  );
const ofKind = (kind: string) => docs.filter((doc) => doc.kind === kind);
const deployment = ofKind('Deployment')[0]!;
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const env: Record<string, string> = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value ?? '']));
const configJson = JSON.parse(ofKind('ConfigMap').find((c) => c.metadata.name === 'vestibule-config')!.data['config.json']) as Record<string, unknown>;

/** Environment variables the README's settings table names (its "Environment" column). */
function documentedVariables(): Set<string> {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('### Settings');
  const rows = readme.slice(start, readme.indexOf('\n### ', start + 1)).split('\n').filter((line) => line.startsWith('|'));
  const names = rows.flatMap((row) => [...(row.split('|')[2] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
  return new Set(names);
}
const DOCUMENTED = documentedVariables();
/** What the loader reads: the overrides, plus the few it reads by name. */
const READ = new Set([...ENV_OVERRIDES.map((o) => o.name), 'BROKER_CONFIG', 'NODE_ENV', 'REDIS_URL']);
/** "$NAME" references in the configuration file. */
const REFERENCED = new Set([...JSON.stringify(configJson).matchAll(/"\$([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1]!));
/** A variable, or its NAME_FILE form (README: the `_FILE` form works for every variable). */
const base = (name: string) => name.replace(/_FILE$/, '');

function undocumented(names: string[]): string[] {
  const known = (name: string) => DOCUMENTED.has(name) && READ.has(name);
  return names.filter((name) => !REFERENCED.has(base(name)) && !known(name) && !known(base(name)));
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  let broker: TestBroker | undefined;
  afterAll(async () => broker?.close());

  it('ship a Deployment, a Service, a PodDisruptionBudget and the ConfigMaps, listed in the kustomization', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']);
    const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(kustomization.resources.sort()).toEqual(readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
  });

  it('set only documented settings the loader reads, or variables the configuration file references', () => {
    expect(Object.keys(env).length).toBeGreaterThan(5);
    expect(undocumented(Object.keys(env))).toEqual([]);
    expect(REFERENCED.size).toBeGreaterThan(0);
    for (const name of REFERENCED) expect(Object.keys(env).map(base), name).toContain(name);
  });

  it('carry a configuration the broker accepts in production, with the secrets the Secret provides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-k8s-'));
    const secretFiles: Record<string, string> = {
      'cookie-keys': 'k'.repeat(40),
      'vault-keys': Buffer.alloc(32, 7).toString('base64url'),
      'redis-url': 'redis://redis:6379',
      'intranet-client-secret': 's'.repeat(40),
      'metrics-token': 'm'.repeat(40),
      'jwks.json': '{"keys":[]}',
    };
    for (const [file, content] of Object.entries(secretFiles)) writeFileSync(join(dir, file), content);
    const mounted = Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value.replace('/run/secrets/vestibule', dir)]));
    const config = await loadConfig({ env: { ...mounted, PROVIDERS_DIR: mkdtempSync(join(tmpdir(), 'vestibule-k8s-providers-')) }, file: configJson, cwd: dir });
    expect(config.production).toBe(true);
    expect(config.port).toBe(Number(env.PORT));
    expect(config.store).toMatchObject({ type: 'redis', url: 'redis://redis:6379' });
    expect(config.watchConfig).toBe(true);
    expect(config.metrics).toMatchObject({ enabled: true, onMainPort: false, port: container.ports.find((p: { name: string }) => p.name === 'metrics').containerPort });
    // Every *_FILE names a file in the Secret's mount; the configuration and providers sit in their ConfigMaps' mounts.
    const mounts = new Map<string, string>(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
    for (const [name, value] of Object.entries(env).filter(([n]) => n.endsWith('_FILE'))) expect(value.startsWith(`${mounts.get('secrets')}/`), name).toBe(true);
    expect(env.BROKER_CONFIG).toBe(`${mounts.get('config')}/config.json`);
    expect(env.PROVIDERS_DIR).toBe(mounts.get('providers'));
    const volumes = new Map<string, Doc>(pod.volumes.map((v: Doc) => [v.name, v]));
    expect(volumes.get('secrets')!.secret.secretName).toBe('vestibule-secrets');
    expect(volumes.get('config')!.configMap.name).toBe('vestibule-config');
  });

  it('probe paths the broker answers, on the port it listens on, and a Service and PDB that select its pods', async () => {
    broker = await startBroker();
    const port = container.ports.find((p: { name: string }) => p.name === 'http');
    expect(port.containerPort).toBe(Number(env.PORT));
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      expect((await fetch(`${broker.url}${probe.httpGet.path}`)).status, probe.httpGet.path).toBe(200);
    }
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const service = ofKind('Service')[0]!;
    expect(service.spec.selector).toEqual(labels);
    expect(service.spec.ports[0].targetPort).toBe('http');
    const pdb = ofKind('PodDisruptionBudget')[0]!;
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it('run as the image\'s non-root user, without privilege escalation, on a read-only root filesystem', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(readFileSync('Dockerfile', 'utf8'));
    expect(user).not.toBeNull();
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user![1]), runAsGroup: Number(user![2]) });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });
});

describe('docker-compose.yml and Dockerfile', () => {
  interface Service {
    environment?: Record<string, string>;
    build?: string;
    command?: string[];
    volumes?: string[];
  }
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
  const brokers = Object.entries(compose.services).filter(([, service]) => service.build);

  it('brokers set only documented settings the loader reads', () => {
    expect(brokers).toHaveLength(2);
    for (const [, service] of brokers) expect(undocumented(Object.keys(service.environment ?? {}))).toEqual([]);
  });

  it('docker-compose config accepts the file (Debian docker-compose; .ci/run installs it)', () => {
    const env = { ...process.env, ISSUER: 'https://sso.example.com', COOKIE_KEYS: 'k'.repeat(40), VAULT_KEYS: Buffer.alloc(32, 7).toString('base64url') };
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { env, encoding: 'utf8', timeout: 60_000 });
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
  });

  it('Redis keeps an append-only file on a volume, and nginx balances over both brokers at the port they listen on', () => {
    const redis = compose.services.redis!;
    expect(redis.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.volumes?.some((volume) => volume.endsWith(':/data'))).toBe(true);
    const nginx = readFileSync('deploy/nginx.conf', 'utf8');
    const upstream = [...nginx.matchAll(/^\s*server ([\w.-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
    expect(upstream).toEqual(brokers.map(([name, service]) => `${name}:${service.environment?.PORT}`).sort());
    expect(compose.services.proxy!.volumes).toContain('./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
  });

  it('the image runs Node 22 LTS, slim, as a non-root user, with a healthcheck on /healthz', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:22-bookworm-slim', 'node:22-bookworm-slim']);
    const users = [...dockerfile.matchAll(/^USER (\d+):(\d+)$/gm)];
    expect(users).toHaveLength(1);
    expect(Number(users[0]![1])).toBeGreaterThan(0);
    expect(Number(users[0]![2])).toBeGreaterThan(0);
    // In the final stage: a USER of the build stage does not carry over to the image.
    expect(dockerfile.lastIndexOf('\nUSER ')).toBeGreaterThan(dockerfile.lastIndexOf('\nFROM '));
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\/healthz/m);
  });
});
