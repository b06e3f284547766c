import type pg from 'pg'
import { eventLookup, type Dimension } from './dimensions.js'
import { FACT_TABLES, type FactTable } from './measures.js'
import { isCitus } from '../store/citus.js'

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
 * a derived table that joins it with the columns needed, read from the organization's events of the
 * report's range and fact table by `report_event_columns` (migrations/096_citus_event_columns.sql):
 * the statement names no distributed table, so it stays plain PostgreSQL on the coordinator, a
 * hash join of the facts with the function's rows, and only the function's query goes to the
 * shards.
 *
 * Every expression a statement uses must be known before the statement's FROM is written: give
 * them all to `eventColumns` (or `column` them first).
 */
export class EventColumns {
  /** Per table: expression → column name and SQL type. */
  private readonly names: Record<FactTable, Map<string, { name: string; type: string }>> = { searches: new Map(), clicks: new Map(), others: new Map() }
  private readonly written = new Set<FactTable>()

  /** `range` null: plain PostgreSQL, lookups. */
  constructor(private readonly range: FactRange | null) {}

  /** The SQL of `expression` (over the event `e`, of SQL type `type`) on the fact row `f` of `table`. */
  column(table: FactTable, expression: string, type = 'text'): string {
    if (!this.range) return eventLookup(expression)
    const names = this.names[table]
    let column = names.get(expression)
    if (column === undefined) {
      if (this.written.has(table)) throw new Error(`event column ${expression} asked for after ${FACT_TABLES[table]} was read`)
      column = { name: `event_${names.size}`, type }
      names.set(expression, column)
    }
    return `f.${column.name}`
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
    const columns = [...names.values()].map((c, i) => `ev.v[${i + 1}]${c.type === 'text' ? '' : `::${c.type}`} AS ${c.name}`)
    const events = `report_event_columns(${param(this.range.orgId)}, ${param(iso(this.range.from))}, ${param(iso(this.range.to))}, '${table}', ${param([...names.keys()])}::text[])`
    return `(SELECT x.*, ${columns.join(', ')} FROM ${FACT_TABLES[table]} x
      LEFT JOIN ${events} ev ON ev.event_id = x.event_id AND ev.received_at = x.received_at) ${alias}`
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
