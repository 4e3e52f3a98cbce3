/**
 * The SSRF guard: which addresses a callback may connect to. Pure address arithmetic here; the
 * worker applies it to the *resolved* address at connect time (a custom `lookup` in the undici
 * Agent), so a DNS name cannot smuggle a private address past it.
 */
import { isIP } from 'node:net';

export interface AddressPolicy {
  /** true: everything is allowed (loopback, private, ...). */
  allowPrivateNetworks: boolean;
  /** Non-public networks that are allowed anyway, e.g. ['10.20.0.0/16']. */
  allowedCidrs: string[];
}

interface Cidr {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
  text: string;
}

/** Networks a callback may not reach unless allowed, with the reason shown when it is refused. */
const BLOCKED: Array<[string, string]> = [
  ['0.0.0.0/8', 'this-network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseV6(text: string): bigint | undefined {
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) is two groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const rest = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** An address as (family, 128- or 32-bit value). IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
function parseAddress(text: string): { family: 4 | 6; bits: bigint } | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const fam = isIP(bare);
  if (fam === 4) {
    const bits = parseV4(bare);
    return bits === undefined ? undefined : { family: 4, bits };
  }
  if (fam === 6) {
    const bits = parseV6(bare);
    if (bits === undefined) return undefined;
    if (bits >> 32n === 0xffffn) return { family: 4, bits: bits & 0xffffffffn };
    return { family: 6, bits };
  }
  return undefined;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddress(text.slice(0, slash));
  const prefix = Number(text.slice(slash + 1));
  // IPv4-mapped CIDRs are unusual; treat the address part by its own syntax.
  const family = isIP(text.slice(0, slash)) === 6 ? 6 : 4;
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return undefined;
  const bits = family === 6 && addr.family === 4 ? addr.bits | (0xffffn << 32n) : addr.bits;
  return { family, bits, prefix, text };
}

function contains(cidr: Cidr, addr: { family: 4 | 6; bits: bigint }): boolean {
  if (cidr.family !== addr.family) return false;
  const width = cidr.family === 4 ? 32 : 128;
  const shift = BigInt(width - cidr.prefix);
  return cidr.bits >> shift === addr.bits >> shift;
}

const BLOCKED_CIDRS = BLOCKED.map(([c, why]) => ({ cidr: parseCidr(c)!, why }));

/** An AddressPolicy compiled once: `check(address)` says why an address is refused, or undefined. */
export function addressGuard(policy: AddressPolicy): (address: string) => string | undefined {
  const allowed = policy.allowedCidrs.map((c) => {
    const cidr = parseCidr(c);
    if (cidr === undefined) throw new RangeError(`allowedCidrs: "${c}" is not a CIDR`);
    return cidr;
  });
  return (address) => {
    if (policy.allowPrivateNetworks) return undefined;
    const addr = parseAddress(address);
    if (addr === undefined) return `"${address}" is not an IP address`;
    const hit = BLOCKED_CIDRS.find((b) => contains(b.cidr, addr));
    if (hit === undefined) return undefined;
    if (allowed.some((a) => contains(a, addr))) return undefined;
    return `${address} is a ${hit.why} address (${hit.cidr.text}); set delivery.allowPrivateNetworks or delivery.allowedCidrs to allow it`;
  };
}
