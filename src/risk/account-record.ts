// Each account's risk facts in one store map, read in one step per evaluation: remembered devices, failed sign-ins per origin (sliding window) and the last sign-in location.
import { randomBytes } from 'node:crypto';
import type { SignInOrigin } from '../session/account-locks.js';
import type { KeyValueStore, WriteOp } from '../store/store.js';
import type { KnownDevice } from './signals/device.js';
import type { LastSignIn } from './signals/geo.js';

/**
 * Fields: "d.<deviceId>" -> KnownDevice, "f.<origin>.<random>" -> when that failure leaves the window (ms; pruned inside
 * the store, so concurrent failures on any instance are all counted), "geo" -> LastSignIn.
 */
const keyOf = (accountId: string) => `risk-account:${accountId}`;
const DEVICE = 'd.';
const failurePrefix = (origin: SignInOrigin) => `f.${origin}.`;
const GEO = 'geo';

/** One read of an account's risk facts. */
export class AccountSnapshot {
  constructor(private readonly fields: Record<string, unknown>) {}

  device(deviceId: string | undefined, now: number, maxAgeMs: number): KnownDevice | undefined {
    const known = deviceId === undefined ? undefined : (this.fields[DEVICE + deviceId] as KnownDevice | undefined);
    return known && known.seenAt + maxAgeMs > now ? known : undefined;
  }

  /** Failures of the origin still inside their window at `now`. */
  failures(origin: SignInOrigin, now: number): number {
    const prefix = failurePrefix(origin);
    let count = 0;
    for (const [field, value] of Object.entries(this.fields)) if (field.startsWith(prefix) && typeof value === 'number' && value > now) count += 1;
    return count;
  }

  lastSignIn(): LastSignIn | undefined {
    return this.fields[GEO] as LastSignIn | undefined;
  }

  /** The writes forgetting the origin's failures in this snapshot. */
  clearFailureOps(key: string, origin: SignInOrigin): WriteOp[] {
    const prefix = failurePrefix(origin);
    return Object.keys(this.fields)
      .filter((field) => field.startsWith(prefix))
      .map((field) => ({ op: 'mapDelete' as const, key, field }));
  }

  /** Devices beyond `max`, least recently seen first. */
  staleDevices(max: number): string[] {
    const devices = Object.entries(this.fields)
      .filter(([field]) => field.startsWith(DEVICE))
      .sort(([, a], [, b]) => (a as KnownDevice).seenAt - (b as KnownDevice).seenAt);
    return devices.slice(0, Math.max(0, devices.length - max)).map(([field]) => field);
  }
}

export class AccountRiskRecords {
  constructor(
    private readonly store: KeyValueStore,
    /** How long a remembered device and the last location are kept after the last sign-in. */
    private readonly keepMs: number,
  ) {}

  async read(accountId: string): Promise<AccountSnapshot> {
    return new AccountSnapshot(await this.store.mapGetAll(keyOf(accountId)));
  }

  /** Adds one failure of the origin at `now`; answers the origin's failures within the window, this one included. */
  async addFailure(accountId: string, origin: SignInOrigin, windowMs: number, now: number): Promise<number> {
    const key = keyOf(accountId);
    await this.store.batch([
      { op: 'mapSet', key, field: failurePrefix(origin) + randomBytes(9).toString('base64url'), value: now + windowMs, ttlMs: windowMs },
      { op: 'mapPrune', key, upTo: now },
    ]);
    return (await this.read(accountId)).failures(origin, now);
  }

  async clearFailures(accountId: string, origin: SignInOrigin, snapshot?: AccountSnapshot): Promise<void> {
    const ops = (snapshot ?? (await this.read(accountId))).clearFailureOps(keyOf(accountId), origin);
    if (ops.length > 0) await this.store.batch(ops);
  }

  /**
   * After a sign-in passed: remembers (or refreshes) the device, keeps the location, forgets the origin's failures
   * (never the other origin's: the owner's success gives an attacker nothing); beyond maxDevices the least recently seen go.
   */
  async signedIn(accountId: string, input: { deviceId: string; family: string; origin: SignInOrigin; location?: { latitude: number; longitude: number }; maxDevices: number; now: number }, snapshot: AccountSnapshot): Promise<void> {
    const key = keyOf(accountId);
    const device: KnownDevice = { family: input.family, seenAt: input.now };
    const ops: WriteOp[] = [{ op: 'mapSet', key, field: DEVICE + input.deviceId, value: device, ttlMs: this.keepMs }, ...snapshot.clearFailureOps(key, input.origin)];
    if (input.location) ops.push({ op: 'mapSet', key, field: GEO, value: { ...input.location, at: input.now } satisfies LastSignIn, ttlMs: this.keepMs });
    const known = snapshot.device(input.deviceId, input.now, this.keepMs) !== undefined;
    for (const field of snapshot.staleDevices(input.maxDevices - (known ? 0 : 1))) ops.push({ op: 'mapDelete', key, field });
    await this.store.batch(ops);
  }
}
