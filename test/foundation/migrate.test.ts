import pg from 'pg'
import t from 'tap'
import { migrate } from '../../src/store/migrate.js'
import { createBareDatabase } from '../helpers/db.js'

// A cluster initialised without a locale (no LANG in the environment) creates SQL_ASCII
// databases, where the reports' Unicode query grouping cannot work: migrating one must stop with
// a message that says what to do, and leave the database untouched.
t.test('a database that is not UTF8 is refused before any migration', async (t) => {
  const { url } = await createBareDatabase(t, 'st_ascii', "ENCODING 'SQL_ASCII' LOCALE 'C' TEMPLATE template0")
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  await t.rejects(migrate(pool), /needs a UTF8 database; st_ascii_\w+ is SQL_ASCII\. Create one with: CREATE DATABASE/)
  const { rows } = await pool.query(`SELECT to_regclass('schema_migrations') AS table`)
  t.equal(rows[0].table, null, 'nothing was created')
  // Ended here; the teardown waits for its connections to close before dropping the database.
  await pool.end()
})
