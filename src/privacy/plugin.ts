import fp from 'fastify-plugin'
import { oldestEvents, runRetention, type RetentionResult } from './retention.js'
import { IdentityControls } from './identity.js'

declare module 'fastify' {
  interface FastifyInstance {
    retention: { runOnce(): Promise<RetentionResult> }
    identity: IdentityControls
  }
}

/**
 * The retention worker: a pass every RETENTION_INTERVAL_MINUTES by the app's clock (`app.clock()`),
 * the first one interval after start,
 * so tests move time instead of waiting. One pass at a time in the process; across instances an
 * advisory lock lets one run and the others skip. After each pass, /metrics learns each org's
 * oldest raw event and when the pass ran.
 */
export const privacyPlugin = fp(
  async (app) => {
    // Each org's identity controls, applied by the writer to every event before it is queued.
    const identity = new IdentityControls(app.db, app.keys)
    app.writer.setIdentityPolicy(identity.apply)
    app.decorate('identity', identity)

    const log = app.log.child({ component: 'retention' })
    const pass = async (): Promise<RetentionResult> => {
      const now = app.clock()
      const result = await runRetention(app.db, now, { batchRows: app.config.RETENTION_BATCH_ROWS, log })
      if (result.ran) {
        app.metrics.retentionLastRun.set(now.getTime() / 1000)
        app.metrics.retentionLastRunSeconds.set(result.ms / 1000)
        app.metrics.retentionDeleted.inc(Object.values(result.deleted).reduce((a, b) => a + b, 0))
        app.metrics.retentionDropped.inc(result.dropped.length)
        app.metrics.oldestEvent.reset()
        for (const [org, at] of await oldestEvents(app.db)) app.metrics.oldestEvent.set({ org }, at.getTime() / 1000)
        if (result.dropped.length || Object.keys(result.deleted).length) log.info({ dropped: result.dropped, deleted: result.deleted, ms: result.ms }, 'retention pass')
      }
      return result
    }
    // Passes run one after another: a pass asked for (runOnce) while the scheduled one runs starts
    // after it, by the clock and settings of its own time, rather than sharing its result.
    let chain: Promise<unknown> = Promise.resolve()
    let pending = 0
    const runOnce = (): Promise<RetentionResult> => {
      pending++
      const next = chain.then(pass, pass).finally(() => pending--)
      chain = next.catch(() => {})
      return next
    }
    app.decorate('retention', { runOnce })

    const intervalMs = app.config.RETENTION_INTERVAL_MINUTES * 60_000
    // The first pass one interval after start (a restart does not cost a pass), then one per
    // interval. Checked every few seconds against the app's clock: a manual clock moved past the
    // interval triggers a pass without real waiting.
    let nextAt = app.clock().getTime() + intervalMs
    const timer = setInterval(() => {
      const now = app.clock().getTime()
      if (now < nextAt || pending > 0) return
      nextAt = now + intervalMs
      runOnce().catch((err: unknown) => log.warn({ err }, 'retention pass failed'))
    }, 5000).unref()
    app.addHook('onClose', async () => {
      clearInterval(timer)
      await chain
    })
  },
  { name: 'privacy', dependencies: ['store', 'auth'] },
)
