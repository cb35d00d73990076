// Which kind of network an IP address belongs to (public, loopback, private, link-local, reserved): the guard of outbound requests made on others' behalf asks it.
import { BlockList, isIP } from 'node:net';

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'reserved';

function blockList(v4: readonly string[], v6: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of v4) {
    const [net, bits] = cidr.split('/') as [string, string];
    list.addSubnet(net, Number(bits), 'ipv4');
  }
  for (const cidr of v6) {
    const [net, bits] = cidr.split('/') as [string, string];
    list.addSubnet(net, Number(bits), 'ipv6');
  }
  return list;
}

const CLASSES: readonly (readonly [AddressClass, BlockList])[] = [
  ['loopback', blockList(['127.0.0.0/8'], ['::1/128'])],
  ['private', blockList(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'], ['fc00::/7'])],
  ['link-local', blockList(['169.254.0.0/16'], ['fe80::/10'])],
  [
    'reserved',
    blockList(
      ['0.0.0.0/8', '192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4'],
      ['::/128', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', '2002::/16', 'fec0::/10', 'ff00::/8'],
    ),
  ],
];

/** The class of an IP address (IPv4-mapped IPv6 addresses are judged as their IPv4 address); undefined when it is not an IP. */
export function addressClass(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const ip = mapped ? mapped[1]! : bare;
  const family = isIP(ip);
  if (family === 0) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [name, list] of CLASSES) if (list.check(ip, type)) return name;
  return 'public';
}
