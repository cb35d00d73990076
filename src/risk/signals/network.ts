// Network signal: the client address against the trusted and blocked CIDR lists and the optional IP-reputation list file.
import { readFile } from 'node:fs/promises';
import { parseCidr } from '../../config/trust-proxy.js';
import { CidrSet } from '../cidr-set.js';
import type { SignalHit } from '../types.js';

/** A compiled list of addresses/CIDRs. */
export interface CidrMatcher {
  readonly size: number;
  has(ip: string): boolean;
}

/** Compiles entries already validated by the configuration schema (a malformed one throws). */
export function cidrMatcher(entries: readonly string[]): CidrMatcher {
  const set = new CidrSet();
  for (const entry of entries) if (!set.add(entry)) throw new TypeError(`"${entry.slice(0, 60)}" is not an IP address or CIDR`);
  return set;
}

/** Parses an IP-reputation list: one address or CIDR a line, blank lines and "#" comments ignored; every bad line is named. */
export function parseReputationList(text: string, source: string): CidrMatcher {
  const entries: string[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const entry = line.replace(/#.*/, '').trim();
    if (entry === '') return;
    if (parseCidr(entry)) entries.push(entry);
    else if (problems.length < 10) problems.push(`${source}:${index + 1}: "${entry.slice(0, 60)}" is not an IP address or CIDR`);
  });
  if (problems.length > 0) throw new Error(`risk.networks.reputationFile: ${problems.join('; ')}`);
  return cidrMatcher(entries);
}

export async function loadReputationList(path: string): Promise<CidrMatcher> {
  return parseReputationList(await readFile(path, 'utf8'), path);
}

export interface NetworkLists {
  trusted: CidrMatcher;
  blocked: CidrMatcher;
  reputation?: CidrMatcher;
}

/** What the network says about `ip`; `trusted` also feeds access policies ("networks": "trusted"). */
export function networkSignal(ip: string, lists: NetworkLists): { hits: SignalHit[]; trusted: boolean } {
  const hits: SignalHit[] = [];
  const trusted = lists.trusted.has(ip);
  if (lists.blocked.has(ip)) hits.push({ signal: 'network.blocked' });
  if (lists.trusted.size > 0 && !trusted) hits.push({ signal: 'network.untrusted' });
  if (lists.reputation?.has(ip)) hits.push({ signal: 'network.reputation' });
  return { hits, trusted };
}
