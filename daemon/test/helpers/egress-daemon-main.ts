import net from 'node:net';
import { Daemon } from '../../src/daemon/daemon.js';
import { builtInProxies } from '../../src/proxies/index.js';
import { createEgressProxy } from '../../src/proxies/egress/listener.js';
import { systemDial, systemResolve } from '../../src/proxies/egress/destination.js';

/**
 * The real daemon (`airlock --home HOME up`, as a process) with the egress proxy's resolver and
 * dialer given the test's map, so tests can make a name resolve where they choose (a name for
 * 127.0.0.1, a "public" address) without a DNS server:
 * - AIRLOCK_TEST_EGRESS_NAMES: {"name": ["address", ...]} (other names: the system resolver)
 * - AIRLOCK_TEST_EGRESS_DIAL: {"address:port": "127.0.0.1:port"}: a checked public address the
 *   test stands in for with a server on loopback (only what passed the destination check is dialled)
 * Only this test entry reads them; `airlock up` has no such settings.
 */
const home = process.argv[process.argv.indexOf('--home') + 1]!;
const names = JSON.parse(process.env.AIRLOCK_TEST_EGRESS_NAMES ?? '{}') as Record<string, string[]>;
const redirects = JSON.parse(process.env.AIRLOCK_TEST_EGRESS_DIAL ?? '{}') as Record<string, string>;

const egress = createEgressProxy({
  resolve: (host) => (names[host] ? Promise.resolve(names[host]) : systemResolve(host)),
  dial: (address, port) => {
    const to = redirects[`${address.includes(':') ? `[${address}]` : address}:${port}`];
    if (to === undefined) return systemDial(address, port);
    const at = to.lastIndexOf(':');
    return net.connect({ host: to.slice(0, at), port: Number(to.slice(at + 1)), allowHalfOpen: true });
  },
});

const daemon = await Daemon.start({ home, proxies: { ...builtInProxies(), egress }, testActionSource: true });
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  daemon.stop().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
