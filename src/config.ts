import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'

/**
 * Every setting the service reads from the environment, with its default.
 * Documented for users in README.md and .env.example; keep the three in step.
 */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
  DATA_DIR: Type.String({ default: '.data' }),
  EMBEDDED_PG_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 54329 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  VISIT_TIMEOUT_MINUTES: Type.Number({ exclusiveMinimum: 0, default: 30 }),
  BATCH_WINDOW_MS: Type.Number({ minimum: 0, maximum: 1000, default: 2 }),
  BATCH_MAX_EVENTS: Type.Integer({ minimum: 1, maximum: 50000, default: 2000 }),
  WRITER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  PG_POOL_MAX: Type.Integer({ minimum: 2, maximum: 200, default: 10 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  TRUST_PROXY: Type.Boolean({ default: false }),
  BOOTSTRAP_DEFAULT_ORG: Type.Boolean({ default: true }),
  /** Processes serving the port: a number, or `auto` for one per core. */
  WORKERS: Type.String({ pattern: '^(auto|[1-9]|[1-5][0-9]|6[0-4])$', default: '1' }),
  /** Events waiting for a batch; past it requests get 503 + Retry-After instead of growing memory. */
  MAX_QUEUED_EVENTS: Type.Integer({ minimum: 1, default: 50_000 }),
  /** Bound of the outage spool (DATA_DIR/spool); when full, requests get 503 + Retry-After. */
  SPOOL_MAX_BYTES: Type.Integer({ minimum: 65_536, default: 1_073_741_824 }),
  SPOOL_SEGMENT_BYTES: Type.Integer({ minimum: 4096, default: 16_777_216 }),
  /** How often the database is probed while events are spooled. */
  SPOOL_RETRY_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  /** Retention passes (docs/privacy.md): how often one runs, and rows per delete statement. */
  RETENTION_INTERVAL_MINUTES: Type.Integer({ minimum: 1, maximum: 10_080, default: 60 }),
  RETENTION_BATCH_ROWS: Type.Integer({ minimum: 100, maximum: 100_000, default: 5000 }),
  /** Deepest JSON nesting a request body may have (objects and arrays). */
  JSON_MAX_DEPTH: Type.Integer({ minimum: 1, maximum: 1000, default: 32 }),
  /** Requests per credential (or per client IP without one) per minute; 0 disables the limit. */
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, default: 12_000 }),
  /** Refused credentials per client address per minute; past it, 429 before any lookup. 0 = off. */
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 0, default: 120 }),
  /** Time a request may take to arrive whole (headers and body); slower ones are cut with 408. */
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
  /** Keep the report facts and tiles up to date in this process (one instance works at a time). */
  REPORTS_MAINTENANCE: Type.Boolean({ default: true }),
  /** Events the report maintenance takes per transaction. */
  REPORTS_CHUNK_EVENTS: Type.Integer({ minimum: 100, maximum: 100_000, default: 5000 }),
  /** Pause of the report maintenance when there is nothing to do (its freshness floor). */
  REPORTS_IDLE_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  /** Rest after a busy maintenance step, as a multiple of its duration: leaves the database to ingest. */
  REPORTS_REST_RATIO: Type.Number({ minimum: 0, maximum: 10, default: 0.5 }),
  /** An hour whose tile changed is rebuilt at most this often (it is read from its facts meanwhile). */
  REPORTS_TILE_REBUILD_SECONDS: Type.Integer({ minimum: 0, maximum: 86_400, default: 300 }),
  /** Database connections of report reads, and each read's statement timeout. */
  REPORTS_READ_POOL: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  REPORTS_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parse and validate the environment; throws one readable ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const keys = Object.keys(ConfigSchema.properties)
  const picked: Record<string, unknown> = {}
  for (const key of keys) {
    const value = env[key]
    if (value !== undefined && value !== '') picked[key] = value
  }
  const value = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, picked))
  const errors = [...Value.Errors(ConfigSchema, value)]
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const key = e.instancePath.replace(/^\//, '')
      const choices = (ConfigSchema.properties as Record<string, { anyOf?: Array<{ const: unknown }> }>)[key]?.anyOf
      const why = choices ? `must be one of ${choices.map((c) => c.const).join(', ')}` : e.message
      return `  ${key}=${JSON.stringify(env[key])}: ${why}`
    })
    throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join('\n')}`)
  }
  return value as Config
}
