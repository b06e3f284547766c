import { ReportError } from './errors.js'

/*
 * The filter grammar (docs/reports.md), Coveo's `f` syntax plus NOT:
 *   expr := term ("OR" term)*      term := unary ("AND" unary)*
 *   unary := "NOT" unary | "(" expr ")" | cond
 *   cond := dim op value | dim ("IN" | "NOT_IN") "[" value ("," value)* "]"
 *   op := == != =~ !~ =@ !@ < <= > >=
 *   value := 'text' | "text" | number | true | false | null
 */

export type Value = string | number | boolean | null
export type Op = '==' | '!=' | '=~' | '!~' | '=@' | '!@' | '<' | '<=' | '>' | '>='

export type FilterNode =
  | { kind: 'and' | 'or'; children: FilterNode[] }
  | { kind: 'not'; child: FilterNode }
  | { kind: 'cond'; dim: string; op: Op; value: Value }
  | { kind: 'in'; dim: string; negated: boolean; values: Value[] }

export const FILTER_LIMITS = { bytes: 4096, conditions: 50, listValues: 1000 }

const OPS: Op[] = ['==', '!=', '=~', '!~', '=@', '!@', '<=', '>=', '<', '>']

class Parser {
  private at = 0
  private conditions = 0

  constructor(private readonly text: string) {}

  fail(expected: string): never {
    throw new ReportError('InvalidFilter', `Invalid filter at position ${this.at}: expected ${expected}`, { position: this.at, expected })
  }

  private space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++
  }

  private keyword(word: string): boolean {
    this.space()
    const slice = this.text.slice(this.at, this.at + word.length)
    const after = this.text[this.at + word.length]
    if (slice.toUpperCase() === word && (after === undefined || /[\s([]/.test(after))) {
      this.at += word.length
      return true
    }
    return false
  }

  private symbol(s: string): boolean {
    this.space()
    if (this.text.startsWith(s, this.at)) {
      this.at += s.length
      return true
    }
    return false
  }

  parse(): FilterNode {
    const node = this.expr()
    this.space()
    if (this.at < this.text.length) this.fail('AND, OR or the end of the filter')
    return node
  }

  private expr(): FilterNode {
    const children = [this.term()]
    while (this.keyword('OR')) children.push(this.term())
    return children.length === 1 ? children[0]! : { kind: 'or', children }
  }

  private term(): FilterNode {
    const children = [this.unary()]
    while (this.keyword('AND')) children.push(this.unary())
    return children.length === 1 ? children[0]! : { kind: 'and', children }
  }

  private unary(): FilterNode {
    if (this.keyword('NOT')) return { kind: 'not', child: this.unary() }
    if (this.symbol('(')) {
      const node = this.expr()
      if (!this.symbol(')')) this.fail('")"')
      return node
    }
    return this.cond()
  }

  private cond(): FilterNode {
    if (++this.conditions > FILTER_LIMITS.conditions) this.fail(`at most ${FILTER_LIMITS.conditions} conditions`)
    this.space()
    const match = /^[A-Za-z_][\w.]*/.exec(this.text.slice(this.at))
    if (!match) this.fail('a dimension name')
    const dim = match[0]
    this.at += dim.length
    for (const [word, negated] of [['NOT_IN', true], ['IN', false]] as const) {
      if (this.keyword(word)) {
        if (!this.symbol('[')) this.fail('"["')
        const values = [this.value()]
        while (this.symbol(',')) {
          values.push(this.value())
          if (values.length > FILTER_LIMITS.listValues) this.fail(`at most ${FILTER_LIMITS.listValues} values in a list`)
        }
        if (!this.symbol(']')) this.fail('"," or "]"')
        return { kind: 'in', dim, negated, values }
      }
    }
    this.space()
    const op = OPS.find((o) => this.text.startsWith(o, this.at))
    if (!op) this.fail('an operator (==, !=, =~, !~, =@, !@, <, <=, >, >=, IN, NOT_IN)')
    this.at += op.length
    return { kind: 'cond', dim, op, value: this.value() }
  }

  private value(): Value {
    this.space()
    const c = this.text[this.at]
    if (c === "'" || c === '"') {
      let out = ''
      this.at++
      while (this.at < this.text.length && this.text[this.at] !== c) {
        if (this.text[this.at] === '\\' && this.at + 1 < this.text.length) this.at++
        out += this.text[this.at++]
      }
      if (this.text[this.at] !== c) this.fail(`a closing ${c}`)
      this.at++
      return out
    }
    const word = /^[^\s,\])]+/.exec(this.text.slice(this.at))?.[0]
    if (!word) this.fail('a value')
    const lower = word.toLowerCase()
    let value: Value
    if (lower === 'true') value = true
    else if (lower === 'false') value = false
    else if (lower === 'null') value = null
    else if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(word)) value = Number(word)
    else this.fail("a quoted text, a number, true, false or null")
    this.at += word.length
    return value
  }
}

export function parseFilter(text: string): FilterNode {
  if (Buffer.byteLength(text) > FILTER_LIMITS.bytes) {
    throw new ReportError('InvalidFilter', `A filter may be at most ${FILTER_LIMITS.bytes} bytes`, { position: 0, expected: 'a shorter filter' })
  }
  return new Parser(text).parse()
}

/** Every dimension a filter names. */
export function filterDimensions(node: FilterNode | null): string[] {
  if (!node) return []
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.children.flatMap(filterDimensions)
    case 'not':
      return filterDimensions(node.child)
    default:
      return [node.dim]
  }
}

export function and(nodes: Array<FilterNode | null>): FilterNode | null {
  const kept = nodes.filter((n): n is FilterNode => n !== null)
  if (kept.length === 0) return null
  return kept.length === 1 ? kept[0]! : { kind: 'and', children: kept }
}

/** Render a filter back as text (for meta.filter). */
export function renderFilter(node: FilterNode | null): string | null {
  if (!node) return null
  const value = (v: Value) => (typeof v === 'string' ? `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : String(v))
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.children.map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${renderFilter(c)})` : renderFilter(c))).join(` ${node.kind.toUpperCase()} `)
    case 'not':
      return `NOT (${renderFilter(node.child)})`
    case 'cond':
      return `${node.dim} ${node.op} ${value(node.value)}`
    case 'in':
      return `${node.dim} ${node.negated ? 'NOT_IN' : 'IN'} [${node.values.map(value).join(', ')}]`
  }
}

/**
 * `predicate` on `sql`, false where `sql` is NULL. On a fact column, as `sql IS NOT NULL AND
 * predicate`: the planner reads an index by a plain equality, never by one inside coalesce (a
 * query's detail reads its query's facts by the query index). Any other expression (a raw event's
 * field, looked up per row) is evaluated once, in coalesce.
 */
function whenKnown(sql: string, predicate: string): string {
  return /^\w+\.\w+$/.test(sql) ? `(${sql} IS NOT NULL AND ${predicate})` : `coalesce(${predicate}, false)`
}

/**
 * Compile to SQL. `column(dim)` gives the dimension's SQL expression on the source (NULL where it
 * does not apply); values become parameters through `param`. On a missing value (NULL), `== null`
 * and the negative operators are true and the positive ones false: a condition and its negation
 * split the rows in two.
 */
export function compileFilter(node: FilterNode, column: (dim: string) => { sql: string; type: string }, param: (v: unknown) => string): string {
  switch (node.kind) {
    case 'and':
    case 'or':
      return `(${node.children.map((c) => compileFilter(c, column, param)).join(node.kind === 'and' ? ' AND ' : ' OR ')})`
    case 'not':
      return `(NOT coalesce(${compileFilter(node.child, column, param)}, false))`
    case 'in': {
      const { sql, type } = column(node.dim)
      const nonNull = node.values.filter((v) => v !== null)
      const hasNull = nonNull.length < node.values.length
      const typed = nonNull.map((v) => cast(v, type))
      const list = typed.length > 0 ? whenKnown(sql, `(${sql})::text = ANY(${param(typed)}::text[])`) : 'false'
      const positive = `(${list}${hasNull ? ` OR (${sql}) IS NULL` : ''})`
      return node.negated ? `(NOT ${positive})` : positive
    }
    case 'cond': {
      const { sql, type } = column(node.dim)
      const v = node.value
      if (v === null) {
        if (node.op === '==' || node.op === '=~') return `((${sql}) IS NULL)`
        if (node.op === '!=' || node.op === '!~') return `((${sql}) IS NOT NULL)`
        throw new ReportError('InvalidFilter', `${node.op} cannot compare with null`, { position: 0, expected: '== null or != null' })
      }
      const text = `(${sql})::text`
      switch (node.op) {
        case '==':
          return whenKnown(sql, `${text} = ${param(cast(v, type))}`)
        case '!=':
          return `coalesce(${text} <> ${param(cast(v, type))}, true)`
        case '=~':
          return `coalesce(report_lower(${text}) = report_lower(${param(String(v))}::text), false)`
        case '!~':
          return `coalesce(report_lower(${text}) <> report_lower(${param(String(v))}::text), true)`
        case '=@':
          return `coalesce(strpos(report_lower(${text}), report_lower(${param(String(v))}::text)) > 0, false)`
        case '!@':
          return `coalesce(strpos(report_lower(${text}), report_lower(${param(String(v))}::text)) = 0, true)`
        default: {
          if (type === 'number' || typeof v === 'number') {
            if (typeof v !== 'number') throw new ReportError('InvalidFilter', `${node.dim} ${node.op} needs a number`, { position: 0, expected: 'a number' })
            return `coalesce((${sql})::numeric ${node.op} ${param(v)}::numeric, false)`
          }
          return `coalesce(${text} ${node.op} ${param(String(v))}::text, false)`
        }
      }
    }
  }
}

/** Values compared as text: booleans as PostgreSQL prints them, numbers as written ("1" = 1). */
function cast(value: Value, type: string): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (type === 'boolean' && typeof value === 'string') return ['true', '1'].includes(value.toLowerCase()) ? 'true' : 'false'
  return String(value)
}
