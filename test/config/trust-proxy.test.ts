// The trustProxy setting from the file and from TRUST_PROXY: off, a hop count (true = 1) or trusted proxy CIDRs; every bad value named by its path.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseCidr, trustProxyFromEnv } from '../../src/config/trust-proxy.js';
import { configProblems } from '../helpers/config.js';

async function load(file: Record<string, unknown>, env: Record<string, string> = {}) {
  return loadConfig({ env, file: { providersDir: 'test/fixtures/no-providers', ...file } });
}

const problems = (file: Record<string, unknown>, env: Record<string, string> = {}): Promise<string[]> => configProblems(() => load(file, env));

describe('trustProxy in the configuration file', () => {
  it('is off by default', async () => {
    expect((await load({})).trustProxy).toBe(false);
  });

  it.each([
    [false, false],
    [0, false],
    [true, 1],
    [1, 1],
    [2, 2],
    [['10.0.0.0/8', '192.0.2.10', 'fd00::/8', '::1'], ['10.0.0.0/8', '192.0.2.10', 'fd00::/8', '::1']],
  ])('%j means %j', async (value, expected) => {
    expect((await load({ trustProxy: value })).trustProxy).toEqual(expected);
  });

  it('names each bad entry of a CIDR list by its index', async () => {
    const found = await problems({ trustProxy: ['10.0.0.0/8', 'proxy.internal', '10.0.0.0/33', '0.0.0.0/0'] });
    expect(found).toEqual([
      expect.stringMatching(/^trustProxy\[1\]: "proxy.internal" is not an IP address or CIDR/),
      expect.stringMatching(/^trustProxy\[2\]: "10.0.0.0\/33" is not an IP address or CIDR/),
      expect.stringMatching(/^trustProxy\[3\]: "0.0.0.0\/0" would trust every address/),
    ]);
  });

  it.each([[17], [-1], [1.5], ['yes'], [[]]])('refuses %j with a message naming trustProxy', async (value) => {
    const found = await problems({ trustProxy: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^trustProxy: /);
  });
});

describe('TRUST_PROXY', () => {
  it.each([
    ['false', false],
    ['0', false],
    ['true', 1],
    ['TRUE', 1],
    ['1', 1],
    ['2', 2],
    [' 10.0.0.0/8 , 2001:db8::/32 ', ['10.0.0.0/8', '2001:db8::/32']],
    ['172.16.0.5', ['172.16.0.5']],
  ])('%j means %j', async (text, expected) => {
    expect((await load({}, { TRUST_PROXY: text })).trustProxy).toEqual(expected);
  });

  it('overrides the file', async () => {
    expect((await load({ trustProxy: ['10.0.0.0/8'] }, { TRUST_PROXY: 'false' })).trustProxy).toBe(false);
  });

  it('reports a bad CIDR in the list by its path', async () => {
    expect(await problems({}, { TRUST_PROXY: '10.0.0.0/8,10.1.2.3/40' })).toEqual([expect.stringMatching(/^trustProxy\[1\]: "10.1.2.3\/40" is not an IP address or CIDR/)]);
    expect(await problems({}, { TRUST_PROXY: '99' })).toEqual([expect.stringMatching(/^trustProxy: /)]);
  });

  it('parses text without deciding validity (the schema does)', () => {
    expect(trustProxyFromEnv('a, b,,')).toEqual(['a', 'b']);
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.0.2.1', { address: '192.0.2.1', prefix: 32, family: 'ipv4' }],
    ['fd00::/8', { address: 'fd00::', prefix: 8, family: 'ipv6' }],
    ['::ffff:10.0.0.0/104', { address: '::ffff:10.0.0.0', prefix: 104, family: 'ipv6' }],
  ])('%s', (text, expected) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it.each(['', '10.0.0.0/', '10.0.0.0/x', '10.0.0/8', '1.2.3.4/33', 'fd00::/129', 'fe80::1%eth0', '010.0.0.1', 'example.com/8'])('refuses %j', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});
