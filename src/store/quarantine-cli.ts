import { parseArgs } from 'node:util'
import type pg from 'pg'
import { listQuarantine, redriveQuarantine } from './quarantine.js'

export const QUARANTINE_USAGE = `  quarantine list [--org <id>] [--limit N]             acknowledged events the database refused at replay
  quarantine show <eventId>                             one of them, whole, as JSON
  quarantine redrive (<eventId> | --all) [--org <id>]   store them again (after fixing the cause)`

/** A mistake in the command line; the CLI turns it into its usage error (exit code 2). */
export class QuarantineUsageError extends Error {}

/** `quarantine …` admin commands, on the database and the quarantine directory of DATA_DIR. */
export async function runQuarantineCli(
  args: string[],
  context: { pool: pg.Pool; dir: string; visitTimeoutMinutes: number },
  out: (line: string) => void,
): Promise<number> {
  const [sub, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    options: { org: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  })
  switch (sub) {
    case 'list': {
      const limit = values.limit === undefined ? 100 : Number(values.limit)
      if (!Number.isInteger(limit) || limit < 1) throw new QuarantineUsageError('--limit must be a positive integer')
      const records = await listQuarantine(context.pool, context.dir, { orgId: values.org, limit })
      for (const r of records) out(`${r.eventId}\t${r.orgId}\t${r.receivedAt}\t${r.store}\t${r.sqlstate ?? '-'}\t${r.reason}`)
      if (records.length === 0) out('the quarantine is empty')
      return 0
    }
    case 'show': {
      const eventId = positionals[0]
      if (!eventId || !/^[0-9a-f-]{36}$/i.test(eventId)) throw new QuarantineUsageError('quarantine show needs an event id')
      const [record] = await listQuarantine(context.pool, context.dir, { eventId })
      if (!record) {
        out(`no quarantined event ${eventId}`)
        return 1
      }
      out(JSON.stringify(record, null, 2))
      return 0
    }
    case 'redrive': {
      const eventId = positionals[0]
      if (!values.all && !eventId) throw new QuarantineUsageError('quarantine redrive needs an event id, or --all')
      if (eventId && !/^[0-9a-f-]{36}$/i.test(eventId)) throw new QuarantineUsageError(`not an event id: ${eventId}`)
      const result = await redriveQuarantine(context.pool, context.dir, context.visitTimeoutMinutes, { orgId: values.org, eventId })
      for (const id of result.stored) out(`stored ${id}`)
      for (const r of result.refused) out(`still refused ${r.eventId}: ${r.reason}`)
      out(`${result.stored.length} stored, ${result.refused.length} still refused`)
      return result.refused.length > 0 ? 1 : 0
    }
    default:
      throw new QuarantineUsageError(`unknown command: quarantine ${sub ?? ''}\n${QUARANTINE_USAGE}`)
  }
}
