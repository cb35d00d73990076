// Device signal: is this browser (its device cookie's id) known for this account, and did its user-agent family change; remembered devices live in the store.
import type { KeyValueStore } from '../../store/store.js';
import type { SignalHit } from '../types.js';

/** A device an account signed in from. */
export interface KnownDevice {
  /** User-agent family when last seen ("chrome/windows"). */
  family: string;
  seenAt: number;
}

const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'edge'],
  [/\bOPR\/|\bOpera\b/, 'opera'],
  [/\bFirefox\/|\bFxiOS\//, 'firefox'],
  [/\bChrome\/|\bCriOS\/|\bChromium\//, 'chrome'],
  [/\bSafari\//, 'safari'],
  [/\bcurl\//, 'curl'],
];
const SYSTEMS: readonly [RegExp, string][] = [
  [/\bAndroid\b/, 'android'],
  [/\biPhone|iPad|iPod\b/, 'ios'],
  [/\bWindows\b/, 'windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macos'],
  [/\bCrOS\b/, 'chromeos'],
  [/\bLinux\b/, 'linux'],
];

const first = (list: readonly [RegExp, string][], text: string) => list.find(([pattern]) => pattern.test(text))?.[1] ?? 'other';

/** Browser and operating-system family ("firefox/linux"); versions are ignored, so an update is no change. */
export function userAgentFamily(userAgent: string | undefined): string {
  const text = (userAgent ?? '').slice(0, 512);
  return `${first(BROWSERS, text)}/${first(SYSTEMS, text)}`;
}

export function deviceSignal(known: KnownDevice | undefined, family: string): SignalHit[] {
  if (!known) return [{ signal: 'device.new' }];
  return known.family === family ? [] : [{ signal: 'device.user_agent_changed', detail: `${known.family} -> ${family}` }];
}

const keyOf = (accountId: string) => `risk-devices:${accountId}`;

/** The devices each account signed in from, a map of device id -> KnownDevice, kept for `maxAgeMs` after the last sign-in. */
export class DeviceRegistry {
  constructor(
    private readonly store: KeyValueStore,
    private readonly maxAgeMs: number,
    private readonly maxPerAccount: number,
  ) {}

  async get(accountId: string, deviceId: string | undefined, now: number): Promise<KnownDevice | undefined> {
    if (deviceId === undefined) return undefined;
    const known = (await this.store.mapGetAll<KnownDevice>(keyOf(accountId)))[deviceId];
    return known && known.seenAt + this.maxAgeMs > now ? known : undefined;
  }

  /** Remembers (or refreshes) the device; beyond maxPerAccount the least recently seen are forgotten. */
  async remember(accountId: string, deviceId: string, family: string, now: number): Promise<void> {
    const key = keyOf(accountId);
    await this.store.batch([{ op: 'mapSet', key, field: deviceId, value: { family, seenAt: now } satisfies KnownDevice, ttlMs: this.maxAgeMs }]);
    const all = Object.entries(await this.store.mapGetAll<KnownDevice>(key));
    if (all.length <= this.maxPerAccount) return;
    const stale = all.sort(([, a], [, b]) => a.seenAt - b.seenAt).slice(0, all.length - this.maxPerAccount);
    await this.store.batch(stale.map(([field]) => ({ op: 'mapDelete' as const, key, field })));
  }
}
