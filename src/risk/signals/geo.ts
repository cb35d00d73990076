// Geo signal (optional): the address located in a local MaxMind-format city database, and impossible travel between an account's consecutive sign-ins.
import maxmind, { type CityResponse } from 'maxmind';
import type { SignalHit } from '../types.js';

export interface GeoPoint {
  latitude: number;
  longitude: number;
}

/** Where an address is, or undefined (private range, not in the database). */
export type GeoLookup = (ip: string) => GeoPoint | undefined;

export async function openGeoDatabase(path: string): Promise<GeoLookup> {
  const reader = await maxmind.open<CityResponse>(path, { cache: { max: 10_000 } });
  return (ip) => {
    if (!maxmind.validate(ip)) return undefined;
    const location = reader.get(ip)?.location;
    return location && Number.isFinite(location.latitude) && Number.isFinite(location.longitude) ? { latitude: location.latitude, longitude: location.longitude } : undefined;
  };
}

const EARTH_RADIUS_KM = 6371;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

/** Great-circle distance (haversine), km. */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = radians(b.latitude - a.latitude);
  const dLon = radians(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.latitude)) * Math.cos(radians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The account's previous sign-in location. */
export interface LastSignIn extends GeoPoint {
  at: number;
}

export interface TravelLimits {
  maxSpeedKmh: number;
  minDistanceKm: number;
}

/** Impossible travel: farther than minDistanceKm, faster than maxSpeedKmh (two sign-ins at the same instant far apart count). */
export function geoSignal(previous: LastSignIn | undefined, here: GeoPoint | undefined, now: number, limits: TravelLimits): SignalHit[] {
  if (!previous || !here) return [];
  const km = distanceKm(previous, here);
  if (km <= limits.minDistanceKm) return [];
  const hours = Math.max(0, now - previous.at) / 3_600_000;
  const speed = hours === 0 ? Infinity : km / hours;
  return speed > limits.maxSpeedKmh ? [{ signal: 'geo.impossible_travel', detail: `${Math.round(km)} km in ${Math.round(hours * 60)} min` }] : [];
}
