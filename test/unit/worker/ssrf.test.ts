import { describe, expect, test } from '@jest/globals';
import { addressGuard, parseCidr } from '../../../src/worker/index.js';

const strict = addressGuard({ allowPrivateNetworks: false, allowedCidrs: [] });

describe('addressGuard (default: public addresses only)', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'this-network'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
  ])('refuses %s (%s)', (address, why) => {
    expect(strict(address)).toContain(why);
  });

  test.each(['8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.0', '100.63.255.255', '100.128.0.0', '11.0.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8'])('allows public %s', (address) => {
    expect(strict(address)).toBeUndefined();
  });

  test('refuses what is not an IP address', () => {
    expect(strict('localhost')).toMatch(/not an IP address/);
  });
});

describe('addressGuard with exceptions', () => {
  test('allowPrivateNetworks allows everything', () => {
    const open = addressGuard({ allowPrivateNetworks: true, allowedCidrs: [] });
    for (const a of ['127.0.0.1', '10.0.0.1', '::1', 'fd00::1']) expect(open(a)).toBeUndefined();
  });

  test('allowedCidrs opens exactly the listed networks', () => {
    const g = addressGuard({ allowPrivateNetworks: false, allowedCidrs: ['10.20.0.0/16', 'fd00:1::/32', '127.0.0.1/32'] });
    expect(g('10.20.5.5')).toBeUndefined();
    expect(g('10.21.0.1')).toContain('private');
    expect(g('fd00:1:ffff::1')).toBeUndefined();
    expect(g('fd00:2::1')).toContain('unique local');
    expect(g('127.0.0.1')).toBeUndefined();
    expect(g('127.0.0.2')).toContain('loopback');
  });

  test('a malformed allowedCidrs entry is rejected up front', () => {
    expect(() => addressGuard({ allowPrivateNetworks: false, allowedCidrs: ['10.0.0.0/33'] })).toThrow(/not a CIDR/);
    expect(parseCidr('nonsense/8')).toBeUndefined();
  });
});
