/**
 * Telling "the database cannot be reached right now" (spool the batch, replay it later) from
 * "the database refuses this data" (find the events at fault; never retry them as they are).
 */

// Socket-level failures from node (pg passes them through).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

// node-postgres reports a lost or never-made connection with plain Errors and these messages.
// "timeout exceeded when trying to connect" is also what a pool says when all its clients stay
// busy: the writer has a pool of its own, sized so that it never waits for a client, so there
// it can only mean that no connection could be made.
const PG_CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused|not queryable/i

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' ? code : undefined
}

export function isDatabaseUnavailable(err: unknown): boolean {
  const code = sqlState(err)
  if (code) {
    if (NETWORK_CODES.has(code)) return true
    // 08: connection exception; 57P01-57P03: the server is shutting down, crashed or starting;
    // 53: out of connections, memory or disk; 40: serialization failure or deadlock (transient);
    // 58: system error (I/O) on the server.
    if (/^(08|53|40|58)/.test(code) || /^57P0[1-3]$/.test(code)) return true
  }
  return err instanceof Error && PG_CONNECTION_MESSAGES.test(err.message)
}

/**
 * The database refused the data itself, and would again: 22 data exception (a value out of
 * range, invalid text), 23 integrity constraint violation, 54 program limit exceeded (an index
 * row too large for a huge value, too many columns).
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err)
  return code !== undefined && /^(22|23|54)/.test(code)
}
