// The risk section and clients[].risk through the real loader: defaults, file paths against the configuration file, and every bad setting named by its path.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULT_WEIGHTS } from '../../src/config/risk.js';
import { configProblems } from '../helpers/config.js';

const client = { clientId: 'app', clientSecret: 'app-secret-0123456789abcdefghijklmnop', redirectUris: ['https://app.example.com/cb'] };

describe('risk configuration', () => {
  it('defaults: on, thresholds 50/80, lockout 5 in 5 minutes for 15, no webhook, no geo', async () => {
    const config = await loadConfig({ env: {}, file: { clients: [client] } });
    expect(config.risk).toMatchObject({ enabled: true, thresholds: { medium: 50, high: 80 }, lockout: { maxFailures: 5, windowSeconds: 300, lockSeconds: 900 }, stepUpMaxAgeSeconds: 900, highRiskLockSeconds: 3600 });
    expect(config.risk.webhook).toBeUndefined();
    expect(config.risk.geo).toBeUndefined();
    expect(config.clients[0]?.risk).toBeUndefined();
    expect(Object.keys(DEFAULT_WEIGHTS)).toHaveLength(11);
  });

  it('the reputation list and the geo database resolve against the configuration file\'s directory', async () => {
    const config = await loadConfig({ env: {}, cwd: '/etc/vestibule', file: { risk: { networks: { reputationFile: 'lists/bad-ips.txt' }, geo: { databaseFile: '/var/lib/geo/city.mmdb' } } } });
    expect(config.risk.networks.reputationFile).toBe('/etc/vestibule/lists/bad-ips.txt');
    expect(config.risk.geo?.databaseFile).toBe('/var/lib/geo/city.mmdb');
  });

  it('names every bad setting at once', async () => {
    const problems = await configProblems(() =>
      loadConfig({
        env: {},
        file: {
          risk: {
            weights: { 'device.new': 500, 'made.up': 3 },
            thresholds: { medium: 80, high: 50 },
            networks: { trusted: ['10.0.0.0/33'] },
            workingHours: { timeZone: 'Nowhere/Land' },
            posture: { header: 'bad header' },
            webhook: { url: 'http://soar.example.com/', secret: 'short' },
          },
          clients: [{ ...client, risk: { minAcr: 'urn:other', accessPolicy: { rules: [{ name: 'r', action: 'maybe' }] } } }],
        },
      }),
    );
    const text = problems.join('\n');
    for (const line of [
      'risk.weights.device.new: Too big',
      'risk.weights: Unrecognized key: "made.up"',
      'risk.thresholds: medium must be lower than high',
      'risk.networks.trusted[0]: "10.0.0.0/33" is not an IP address or CIDR',
      'risk.workingHours.timeZone: must be an IANA time zone',
      'risk.posture.header:',
      'risk.webhook.secret: must be at least 32 characters',
      'risk.webhook.url: must be https',
      'clients[0].risk.minAcr:',
      'clients[0].risk.accessPolicy.rules[0].action:',
    ]) {
      expect(text).toContain(line);
    }
  });
});
