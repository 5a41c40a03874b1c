/**
 * External services for tests (NATS, PostgreSQL): whether a test that needs one runs or skips.
 *
 * Locally a missing service skips its tests with a one-line reason. In CI,
 * `WARDEN_REQUIRE_SERVICES=1` turns that into a failure, so a broken service container cannot
 * pass as a green build.
 */
import { connect } from 'node:net';

export type ServiceName = 'NATS' | 'PostgreSQL';

const CONNECT_TIMEOUT_MS = 1_000;

/**
 * `false` when `host:port` accepts a TCP connection; otherwise the reason to pass as node:test's
 * `{ skip }`. Throws instead when `WARDEN_REQUIRE_SERVICES=1`.
 */
export async function serviceSkip(
  name: ServiceName,
  host: string,
  port: number,
): Promise<string | false> {
  if (await reachable(host, port)) return false;
  const reason = `${name} not reachable at ${host}:${port}`;
  if (process.env['WARDEN_REQUIRE_SERVICES'] === '1')
    throw new Error(`${reason}, and WARDEN_REQUIRE_SERVICES=1 requires it`);
  return reason;
}

/** Whether a TCP connection to `host:port` opens within a second. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}
