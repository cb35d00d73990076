// A minimal MaxMind DB (MMDB 2.0) writer for test fixtures: an IPv6 search tree (24-bit records) mapping networks to city locations.
import { addressHex } from '../../src/risk/cidr-set.js';
import { parseCidr } from '../../src/config/trust-proxy.js';

const METADATA_MARKER = Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex');

type Value = string | number | { double: number } | Value[] | { [key: string]: Value };

function control(type: number, size: number): Buffer {
  if (size >= 29) throw new RangeError('the fixture writer keeps every item under 29 bytes or entries');
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
}

/** Encodes one data-section value: maps, arrays, UTF-8 strings, unsigned integers (uint32) and doubles. */
function encode(value: Value): Buffer {
  if (typeof value === 'string') return Buffer.concat([control(2, Buffer.byteLength(value)), Buffer.from(value)]);
  if (typeof value === 'number') {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    return Buffer.concat([control(6, 4), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  if ('double' in value && typeof value.double === 'number') {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value.double);
    return Buffer.concat([control(3, 8), bytes]);
  }
  const entries = Object.entries(value as Record<string, Value>);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([key, item]) => [encode(key), encode(item)])]);
}

export interface CityNetwork {
  /** "192.0.2.0/24" or "2001:db8::/32". */
  network: string;
  latitude: number;
  longitude: number;
}

/** The bits of a network in the IPv6 tree (IPv4 networks sit at ::/96, as MaxMind's databases keep them). */
function networkBits(network: string): number[] {
  const cidr = parseCidr(network);
  const hex = cidr && addressHex(cidr.address);
  if (!cidr || !hex) throw new TypeError(`not a network: ${network}`);
  const full = hex.length === 8 ? '0'.repeat(24) + hex : hex;
  const prefix = hex.length === 8 ? 96 + cidr.prefix : cidr.prefix;
  const bits: number[] = [];
  for (let i = 0; i < prefix; i++) bits.push((parseInt(full[i >> 2] as string, 16) >> (3 - (i & 3))) & 1);
  return bits;
}

/** A GeoLite2-City-shaped database holding `networks`; an address in none of them is not found. */
export function writeCityMmdb(networks: readonly CityNetwork[]): Buffer {
  // Records: a node index, or a data reference { data: i }; undefined is "not found".
  const nodes: [number | { data: number } | undefined, number | { data: number } | undefined][] = [[undefined, undefined]];
  networks.forEach((entry, index) => {
    const bits = networkBits(entry.network);
    let node = 0;
    bits.forEach((bit, depth) => {
      const record = nodes[node]![bit as 0 | 1];
      if (depth === bits.length - 1) {
        nodes[node]![bit as 0 | 1] = { data: index };
        return;
      }
      if (typeof record === 'number') node = record;
      else {
        if (record !== undefined) throw new Error(`${entry.network} overlaps an earlier network`);
        nodes.push([undefined, undefined]);
        node = nodes[node]![bit as 0 | 1] = nodes.length - 1;
      }
    });
  });
  const records = networks.map((entry) => encode({ location: { latitude: { double: entry.latitude }, longitude: { double: entry.longitude } } }));
  const offsets: number[] = [];
  records.reduce((offset, record) => (offsets.push(offset), offset + record.length), 0);
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  const value = (record: number | { data: number } | undefined) => (record === undefined ? nodeCount : typeof record === 'number' ? record : nodeCount + 16 + offsets[record.data]!);
  nodes.forEach(([left, right], index) => {
    tree.writeUIntBE(value(left), index * 6, 3);
    tree.writeUIntBE(value(right), index * 6 + 3, 3);
  });
  const metadata = encode({
    node_count: nodeCount,
    record_size: 24,
    ip_version: 6,
    database_type: 'GeoLite2-City',
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_764_547_200,
    description: { en: 'vestibule test fixture' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...records, METADATA_MARKER, metadata]);
}
