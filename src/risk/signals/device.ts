// Device signal: is this browser (its device cookie's id) known for this account, and did its user-agent family change (remembered devices: account-record.ts).
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
