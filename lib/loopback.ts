import { isIPv4, isIPv6 } from 'node:net';

/** Whether a listen address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  if (isIPv6(bare)) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * Development mode trusts keys that are public (they are in this repository): it may listen on
 * loopback only. The message says what production needs instead.
 */
export function developmentOnNetwork(variable: string, host: string, production: string): string {
  return (
    `${variable}: "${host}" is not a loopback address, and development mode (NODE_ENV unset, development or test) trusts ` +
    `the public development keys, so it listens on loopback only. To serve a network, set NODE_ENV=production with ${production}; ` +
    `to try it on this machine, leave ${variable} at 127.0.0.1.`
  );
}
