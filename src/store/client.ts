import pg from 'pg'
import { isDatabaseUnavailable } from './failures.js'

/**
 * Run `work` on one client of `pool` (a transaction, a session lock). A checked-out client has
 * no error listener of the pool's: the database going away between two of its queries emits an
 * 'error' nobody listens to, and that ends the process. Here the error is caught, and a client
 * that lost its connection is destroyed rather than given back.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let lost: Error | undefined
  const onError = (err: Error) => {
    lost = err
  }
  client.on('error', onError)
  try {
    return await work(client)
  } catch (err) {
    if (isDatabaseUnavailable(err)) lost ??= err as Error
    throw err
  } finally {
    client.removeListener('error', onError)
    client.release(lost)
  }
}

/**
 * A pool whose clients never end the process with an 'error' nobody listens to: the pool listens
 * to its idle clients, not to those checked out, and a connection the database drops between two
 * queries of a checked-out client emits one. The error still reaches the query that needs the
 * connection (and the pool's own 'error' event for idle clients, logged by `onIdleError`).
 */
export function createPool(config: pg.PoolConfig, onIdleError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({ ...config, options: sessionOptions(config.options) })
  pool.on('error', onIdleError)
  pool.on('connect', (client) => client.on('error', () => {}))
  return pool
}

/**
 * Startup options of every connection the service opens, before its own. JIT compilation is off:
 * the service's statements are short or index-driven, and on a server built with LLVM (Debian's,
 * the official container images) the planner compiles any statement it estimates as costly — a
 * 30-day report or a maintenance step — spending up to a second or more compiling for a query that
 * then runs in a fraction of that (BENCHMARKS.md: JIT).
 */
export function sessionOptions(own?: string): string {
  return own ? `-c jit=off ${own}` : '-c jit=off'
}
