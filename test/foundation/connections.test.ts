import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

// JIT compilation costs up to seconds on statements that run in milliseconds (a 30-day report, a
// maintenance step), on any server built with LLVM: every connection the service opens turns it off.
t.test('the service\'s connections run without JIT', async (t) => {
  const { app } = await buildTestApp(t)
  const setting = async (pool: { query: (sql: string) => Promise<{ rows: Array<Record<string, string>> }> }, name: string) =>
    (await pool.query(`SELECT current_setting('${name}') AS v`)).rows[0]!.v
  t.equal(await setting(app.db, 'jit'), 'off', 'the shared pool')
  t.equal(await setting(app.reports.readPool, 'jit'), 'off', 'the report reads')
  t.equal(await setting(app.reports.exportPool, 'jit'), 'off', 'the exports')
  t.equal(await setting(app.reports.readPool, 'default_transaction_read_only'), 'on', 'the reads\' own options are kept')
})
