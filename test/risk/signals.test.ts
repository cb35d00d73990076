// The signal modules one by one: network lists, working hours in a time zone, device posture, user-agent family, device cookie, impossible travel, upstream assurance.
import { describe, expect, it } from 'vitest';
import { riskConfigSchema } from '../../src/config/risk.js';
import { newDeviceId, signDeviceId, verifyDeviceCookie } from '../../src/risk/device-cookie.js';
import { deviceSignal, userAgentFamily } from '../../src/risk/signals/device.js';
import { distanceKm, geoSignal } from '../../src/risk/signals/geo.js';
import { cidrMatcher, networkSignal, parseReputationList } from '../../src/risk/signals/network.js';
import { postureScore, postureSignal } from '../../src/risk/signals/posture.js';
import { timeSignal, workingHoursClock } from '../../src/risk/signals/time.js';
import { upstreamAssurance, upstreamSignal } from '../../src/risk/signals/upstream-assurance.js';
import { velocitySignal } from '../../src/risk/signals/velocity.js';

describe('network signal', () => {
  const lists = { trusted: cidrMatcher(['10.0.0.0/8', 'fd00::/8']), blocked: cidrMatcher(['203.0.113.0/24']), reputation: parseReputationList('# bad actors\n198.51.100.7\n\n2001:db8:bad::/48 # a block\n', 'list') };
  it.each<[string, string[], boolean]>([
    ['10.1.2.3', [], true],
    ['fd00::1', [], true],
    ['192.0.2.1', ['network.untrusted'], false],
    ['203.0.113.9', ['network.blocked', 'network.untrusted'], false],
    ['198.51.100.7', ['network.untrusted', 'network.reputation'], false],
    ['2001:db8:bad::1', ['network.untrusted', 'network.reputation'], false],
    ['', ['network.untrusted'], false],
  ])('%s raises %j (trusted: %s)', (ip, signals, trusted) => {
    const result = networkSignal(ip, lists);
    expect(result.hits.map((hit) => hit.signal)).toEqual(signals);
    expect(result.trusted).toBe(trusted);
  });

  it('without a trusted list nothing is "untrusted"', () => {
    expect(networkSignal('192.0.2.1', { trusted: cidrMatcher([]), blocked: cidrMatcher([]) }).hits).toEqual([]);
  });

  it('a reputation list with bad lines names each of them (file and line)', () => {
    expect(() => parseReputationList('192.0.2.1\nnot-an-ip\n10.0.0.0/33\n', 'rep.txt')).toThrow(/rep\.txt:2: "not-an-ip".*rep\.txt:3: "10\.0\.0\.0\/33"/);
  });
});

describe('time signal', () => {
  // 2026-12-01 is a Tuesday.
  const at = (iso: string) => Date.parse(iso);
  const berlin = workingHoursClock({ timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '18:00' });
  it.each<[string, boolean]>([
    ['2026-12-01T07:00:00Z', true], // 08:00 in Berlin: start is inclusive
    ['2026-12-01T06:59:00Z', false],
    ['2026-12-01T16:59:00Z', true],
    ['2026-12-01T17:00:00Z', false], // 18:00: end is exclusive
    ['2026-12-05T10:00:00Z', false], // Saturday
    ['2026-07-01T06:00:00Z', true], // summer time: 08:00 CEST
    ['2026-07-01T05:59:00Z', false],
  ])('%s inside Berlin office hours: %s', (iso, inside) => {
    expect(berlin.inside(at(iso))).toBe(inside);
  });

  it('a night shift (start after end) belongs to the day it started', () => {
    const night = workingHoursClock({ timeZone: 'Asia/Shanghai', days: ['fri'], start: '22:00', end: '06:00' });
    expect(night.inside(at('2026-12-04T14:00:00Z'))).toBe(true); // Fri 22:00 Shanghai
    expect(night.inside(at('2026-12-04T21:59:00Z'))).toBe(true); // Sat 05:59, the Friday shift
    expect(night.inside(at('2026-12-04T22:00:00Z'))).toBe(false); // Sat 06:00
    expect(night.inside(at('2026-12-03T21:00:00Z'))).toBe(false); // Fri 05:00: Thursday's shift, not a working day
  });

  it('raises time.off_hours only when outside (unknown hours raise nothing)', () => {
    expect(timeSignal(false)).toEqual([{ signal: 'time.off_hours' }]);
    expect(timeSignal(true)).toEqual([]);
    expect(timeSignal(undefined)).toEqual([]);
  });

  it('the configuration refuses an unknown time zone and equal start and end', () => {
    expect(riskConfigSchema.safeParse({ workingHours: { timeZone: 'Mars/Olympus' } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ workingHours: { start: '09:00', end: '09:00' } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ workingHours: { start: '9:00' } }).success).toBe(false);
  });
});

describe('device posture', () => {
  it.each<[string | undefined, boolean, number | undefined]>([
    ['80', true, 80],
    [' 0 ', true, 0],
    ['100', true, 100],
    ['101', true, undefined],
    ['-1', true, undefined],
    ['8O', true, undefined],
    ['1e2', true, undefined],
    ['80', false, undefined], // a client sent it itself
    [undefined, true, undefined],
  ])('%j from a trusted proxy: %s -> %j', (header, trusted, score) => {
    expect(postureScore(header, trusted)).toBe(score);
  });

  it('below the minimum raises posture.low; at it, nothing; unknown, nothing', () => {
    expect(postureSignal(49, 50)).toEqual([{ signal: 'posture.low', detail: '49' }]);
    expect(postureSignal(50, 50)).toEqual([]);
    expect(postureSignal(undefined, 50)).toEqual([]);
  });
});

describe('device signal', () => {
  it.each<[string | undefined, string]>([
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'chrome/windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'edge/windows'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'firefox/linux'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'safari/macos'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'safari/ios'],
    ['Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'chrome/android'],
    ['curl/8.5.0', 'curl/other'],
    [undefined, 'other/other'],
  ])('%s is %s', (ua, family) => {
    expect(userAgentFamily(ua)).toBe(family);
  });

  it('a version update is no change; another browser family is', () => {
    expect(userAgentFamily('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')).toBe(userAgentFamily('Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0'));
    expect(deviceSignal(undefined, 'firefox/linux')).toEqual([{ signal: 'device.new' }]);
    expect(deviceSignal({ family: 'firefox/linux', seenAt: 0 }, 'firefox/linux')).toEqual([]);
    expect(deviceSignal({ family: 'firefox/linux', seenAt: 0 }, 'chrome/windows')).toEqual([{ signal: 'device.user_agent_changed', detail: 'firefox/linux -> chrome/windows' }]);
  });
});

describe('device cookie', () => {
  const keys = ['first-cookie-key-0123456789abcdefghijkl', 'older-cookie-key-0123456789abcdefghijkl'];
  const id = newDeviceId();
  it('verifies under the first key and under an older one (rotation)', () => {
    expect(verifyDeviceCookie(signDeviceId(id, keys), keys)).toBe(id);
    expect(verifyDeviceCookie(signDeviceId(id, [keys[1]!]), keys)).toBe(id);
  });

  it.each<[string, string | undefined]>([
    ['forged mac', `${id}.${'A'.repeat(43)}`],
    ['another device id under a valid mac', `${newDeviceId()}.${signDeviceId(id, keys).split('.')[1]}`],
    ['signed by a key not configured', signDeviceId(id, ['unknown-cookie-key-0123456789abcdefghijk'])],
    ['no dot', id],
    ['empty', ''],
    ['missing', undefined],
    ['oversized', `${id}.${'A'.repeat(200)}`],
    ['malformed id', `../etc.${'A'.repeat(43)}`],
  ])('refuses %s', (_name, value) => {
    expect(verifyDeviceCookie(value, keys)).toBeUndefined();
  });
});

describe('velocity signal', () => {
  it.each<[number, number, string[]]>([
    [2, 9, []],
    [3, 9, ['velocity.account']],
    [2, 10, ['velocity.ip']],
    [5, 50, ['velocity.account', 'velocity.ip']],
  ])('%i account and %i address failures raise %j (limits 3 and 10)', (account, ip, signals) => {
    expect(velocitySignal(account, ip, { accountFailures: 3, ipFailures: 10 }).map((hit) => hit.signal)).toEqual(signals);
  });
});

describe('geo: impossible travel', () => {
  const berlin = { latitude: 52.52, longitude: 13.405 };
  const shanghai = { latitude: 31.2304, longitude: 121.4737 };
  const potsdam = { latitude: 52.3906, longitude: 13.0645 };
  const limits = { maxSpeedKmh: 1000, minDistanceKm: 300 };
  const T = Date.parse('2026-12-01T10:00:00Z');

  it('distance is the great circle (Berlin-Shanghai about 8,400 km)', () => {
    expect(distanceKm(berlin, shanghai)).toBeGreaterThan(8300);
    expect(distanceKm(berlin, shanghai)).toBeLessThan(8500);
    expect(distanceKm(berlin, berlin)).toBe(0);
  });

  it.each<[string, typeof berlin, number, boolean]>([
    ['Berlin then Shanghai one hour later', shanghai, 3_600_000, true],
    ['Berlin then Shanghai at the same instant', shanghai, 0, true],
    ['Berlin then Shanghai after 9 hours (a flight)', shanghai, 9 * 3_600_000, false],
    ['Berlin then Potsdam a minute later (under the minimum distance)', potsdam, 60_000, false],
  ])('%s: %s', (_name, here, elapsed, fires) => {
    const hits = geoSignal({ ...berlin, at: T }, here, T + elapsed, limits);
    expect(hits.map((hit) => hit.signal)).toEqual(fires ? ['geo.impossible_travel'] : []);
  });

  it('no previous sign-in or no location: nothing', () => {
    expect(geoSignal(undefined, shanghai, T, limits)).toEqual([]);
    expect(geoSignal({ ...berlin, at: T }, undefined, T, limits)).toEqual([]);
  });
});

describe('upstream assurance', () => {
  const none = {};
  it.each<[string, string | undefined, string[] | undefined, boolean, string[]]>([
    ['password only', undefined, ['pwd'], false, ['pwd']],
    ['amr mfa', undefined, ['pwd', 'mfa'], true, ['pwd', 'mfa']],
    ['amr otp', undefined, ['otp'], true, ['otp', 'mfa']],
    ['amr hwk', undefined, ['hwk'], true, ['hwk', 'mfa']],
    ['REFEDS MFA acr', 'https://refeds.org/profile/mfa', ['pwd'], true, ['pwd', 'mfa']],
    ['SAML password class', 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', undefined, false, []],
    ['unregistered amr values are dropped', undefined, ['custom', 'pwd'], false, ['pwd']],
    ['nothing said', undefined, undefined, false, []],
  ])('%s: mfa %s', (_name, acr, amr, mfa, mapped) => {
    const result = upstreamAssurance('corp', acr, amr, none);
    expect(result).toEqual({ mfa, amr: mapped });
    expect(upstreamSignal(result).length).toBe(mfa ? 1 : 0);
  });

  it('per provider: its own MFA values and an amr map (acr values mapped too)', () => {
    const settings = { adfs: { mfaAcr: ['http://schemas.microsoft.com/ws/2012/12/authmethod/phoneappnotification'], amrMap: { 'http://schemas.microsoft.com/ws/2012/12/authmethod/phoneappnotification': ['mfa', 'tel'], password: ['pwd'], bogus: ['not-registered'] } } };
    expect(upstreamAssurance('adfs', 'http://schemas.microsoft.com/ws/2012/12/authmethod/phoneappnotification', ['password'], settings)).toEqual({ mfa: true, amr: ['pwd', 'mfa', 'tel'] });
    expect(upstreamAssurance('adfs', undefined, ['password', 'bogus'], settings)).toEqual({ mfa: false, amr: ['pwd'] });
    // Another provider keeps the defaults.
    expect(upstreamAssurance('other', undefined, ['otp'], settings).mfa).toBe(true);
  });

  it('a provider whose mfaAmr is narrowed does not count otp as MFA', () => {
    expect(upstreamAssurance('strict', undefined, ['otp'], { strict: { mfaAmr: ['mfa'] } }).mfa).toBe(false);
  });
});
