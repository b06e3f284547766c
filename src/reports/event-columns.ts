import type pg from 'pg'
import { eventLookup, type Dimension } from './dimensions.js'
import { FACT_TABLES, type FactTable } from './measures.js'
import { isCitus } from '../store/citus.js'

/** The events behind each fact table (src/reports/maintenance/facts.ts). */
const EVENT_TYPES: Record<FactTable, string> = {
  searches: `e.type = 'search'`,
  clicks: `e.type = 'click'`,
  others: `e.type NOT IN ('search', 'click')`,
}

/** What a report reads: an organization's facts of [from, to). */
export interface FactRange {
  orgId: string
  from: Date | string
  to: Date | string
}

/**
 * Columns of the raw events behind the facts, for the dimensions (and data-quality checks) the
 * facts do not copy: `dimensions.ts`'s `raw` expressions over the event `e`.
 *
 * On plain PostgreSQL each is read by the fact's keys, a lookup in the events' primary key per
 * fact row (`eventLookup`), and the fact tables are read as they are: nothing here changes a
 * statement.
 *
 * On Citus (docs/citus.md) the facts are on the coordinator and the events distributed, and Citus
 * plans neither a lookup per fact row nor a join of the two. There the fact table is read through
 * a derived table that joins it with the columns needed, computed on the workers from the
 * organization's events of the report's range and type, in one materialized CTE: Citus runs that
 * CTE first, over every shard, and hands its rows to the coordinator as an intermediate result;
 * the rest of the statement is then plain PostgreSQL on the coordinator, a hash join of the facts
 * with those rows.
 *
 * Every expression a statement uses must be known before the statement's FROM is written: give
 * them all to `eventColumns` (or `column` them first).
 */
export class EventColumns {
  private readonly names: Record<FactTable, Map<string, string>> = { searches: new Map(), clicks: new Map(), others: new Map() }
  private readonly written = new Set<FactTable>()

  /** `range` null: plain PostgreSQL, lookups. */
  constructor(private readonly range: FactRange | null) {}

  /** The SQL of `expression` (over the event `e`) on the fact row `f` of `table`. */
  column(table: FactTable, expression: string): string {
    if (!this.range) return eventLookup(expression)
    const names = this.names[table]
    let name = names.get(expression)
    if (name === undefined) {
      if (this.written.has(table)) throw new Error(`event column ${expression} asked for after ${FACT_TABLES[table]} was read`)
      name = `event_${names.size}`
      names.set(expression, name)
    }
    return `f.${name}`
  }

  /** The dimension's SQL on `table`, with its type (NULL where it does not apply). */
  dimension(d: Dimension, table: FactTable): { sql: string; type: string } {
    const expression = d.raw?.[table]
    return { sql: expression !== undefined ? this.column(table, expression) : d.sql[table] ?? 'NULL', type: d.type }
  }

  /** The FROM item of `table` as `alias`, with the event columns asked for so far. */
  facts(table: FactTable, param: (value: unknown) => string, alias = 'f'): string {
    const names = this.names[table]
    if (!this.range || names.size === 0) return `${FACT_TABLES[table]} ${alias}`
    this.written.add(table)
    const selected = [...names].map(([expression, name]) => `${expression} AS ${name}`)
    return `(WITH ev AS MATERIALIZED (
        SELECT e.event_id, e.received_at, ${selected.join(', ')} FROM events e
        WHERE e.org_id = ${param(this.range.orgId)} AND e.received_at >= ${param(iso(this.range.from))} AND e.received_at < ${param(iso(this.range.to))}
          AND ${EVENT_TYPES[table]}
      )
      SELECT x.*, ${[...names.values()].map((n) => `ev.${n}`).join(', ')} FROM ${FACT_TABLES[table]} x
      LEFT JOIN ev ON ev.event_id = x.event_id AND ev.received_at = x.received_at) ${alias}`
  }
}

function iso(at: Date | string): string {
  return typeof at === 'string' ? at : at.toISOString()
}

/**
 * The event columns of a statement reading facts of `range` and using `dimensions` (those it
 * filters or groups by): lookups on plain PostgreSQL (and whenever none of them is read from the
 * events), joined on Citus.
 */
export async function eventColumns(db: pg.ClientBase, range: FactRange, dimensions: Dimension[]): Promise<EventColumns> {
  const raw = dimensions.filter((d) => d.raw !== undefined)
  if (raw.length === 0 || !(await isCitus(db))) return new EventColumns(null)
  const columns = new EventColumns(range)
  for (const d of raw) for (const [table, expression] of Object.entries(d.raw!) as Array<[FactTable, string]>) columns.column(table, expression)
  return columns
}

/** Event columns for a check that reads the events itself (data quality): lookups unless on Citus. */
export async function eventColumnsOf(db: pg.ClientBase, range: FactRange): Promise<EventColumns> {
  return new EventColumns((await isCitus(db)) ? range : null)
}
