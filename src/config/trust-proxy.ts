// The trustProxy setting: which reverse proxies may tell the broker the client's address (off, a hop count, or a list of trusted proxy CIDRs).
import { isIP } from 'node:net';
import { z } from 'zod';

/** false: no proxy; a number: that many proxies in front of the broker; a list: the addresses/CIDRs of trusted proxies. */
export type TrustProxy = false | number | string[];

export const MAX_PROXY_HOPS = 16;

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = (slash === -1 ? text : text.slice(0, slash)).trim();
  const version = address.includes('%') ? 0 : isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { address, prefix: Number(prefixText), family };
}

function cidrProblem(text: string): string | undefined {
  const cidr = parseCidr(text);
  if (!cidr) return `"${text.slice(0, 60)}" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.0.2.10, fd00::/8)`;
  if (cidr.prefix === 0) return `"${text}" would trust every address, so any client could choose its own; list your proxies' addresses, or give a hop count`;
  return undefined;
}

export const trustProxySchema = z
  .union(
    [
      z.boolean(),
      z.number().int().min(0).max(MAX_PROXY_HOPS),
      z.array(z.string()).min(1).superRefine((entries, ctx) => {
        entries.forEach((entry, index) => {
          const problem = cidrProblem(entry);
          if (problem) ctx.addIssue({ code: 'custom', path: [index], message: problem });
        });
      }),
    ],
    { error: `must be false, a number of proxy hops (0-${MAX_PROXY_HOPS}), or a list of trusted proxy addresses/CIDRs` },
  )
  .default(false)
  // true is one hop: only the address added by the proxy directly in front of the broker is believed.
  .transform((value): TrustProxy => (value === true ? 1 : value === 0 ? false : value))
  .describe(
    'Reverse proxies in front of the broker whose X-Forwarded-For / -Proto / -Host (and X-Request-Id) are believed: false (none), ' +
      'a number of hops (true = 1), or a list of the proxies\' addresses/CIDRs. The client is the address added by the last trusted proxy.',
  );

/** TRUST_PROXY: "false"/"0", "true" (1 hop), a number of hops, or a comma-separated list of addresses/CIDRs. */
export function trustProxyFromEnv(text: string): boolean | number | string[] {
  const value = text.trim();
  if (/^false$/i.test(value)) return false;
  if (/^true$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((item) => item.trim()).filter(Boolean);
}
