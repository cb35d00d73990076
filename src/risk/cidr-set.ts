// A set of CIDR blocks answering "is this address in one of them" with one hash lookup per distinct prefix length (a 10,000-entry threat list stays O(1)).
import { isIP } from 'node:net';
import { parseCidr } from '../config/trust-proxy.js';

/** The address as 32 hex digits (IPv6) or 8 (IPv4); undefined when it is not an address. */
export function addressHex(address: string): string | undefined {
  const version = isIP(address);
  if (version === 4) return address.split('.').map((part) => Number(part).toString(16).padStart(2, '0')).join('');
  if (version !== 6) return undefined;
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hextets.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

/** The first `bits` bits of a hex address, as a string key (whole nibbles, then the partial one's value). */
function prefixKey(hex: string, bits: number): string {
  const whole = bits >> 2;
  const rest = bits & 3;
  return rest === 0 ? hex.slice(0, whole) : `${hex.slice(0, whole)}/${parseInt(hex[whole] as string, 16) >> (4 - rest)}`;
}

export class CidrSet {
  /** Per family (8 or 32 hex digits), per prefix length: the prefixes. */
  private readonly byLength = new Map<number, Map<number, Set<string>>>();
  size = 0;

  /** Adds "10.0.0.0/8", "2001:db8::/32" or a bare address; false when it is not one. */
  add(entry: string): boolean {
    const cidr = parseCidr(entry);
    const hex = cidr && addressHex(cidr.address);
    if (!cidr || !hex) return false;
    let lengths = this.byLength.get(hex.length);
    if (!lengths) this.byLength.set(hex.length, (lengths = new Map()));
    let prefixes = lengths.get(cidr.prefix);
    if (!prefixes) lengths.set(cidr.prefix, (prefixes = new Set()));
    prefixes.add(prefixKey(hex, cidr.prefix));
    this.size += 1;
    return true;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const hex = addressHex(address);
    const lengths = hex && this.byLength.get(hex.length);
    if (!hex || !lengths) return false;
    for (const [bits, prefixes] of lengths) if (prefixes.has(prefixKey(hex, bits))) return true;
    return false;
  }
}
