import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import pino from 'pino'
import { newEvent } from '../../src/events/event.js'
import { dropFromFile, Quarantine, QUARANTINE_FILE } from '../../src/store/quarantine.js'
import { createBareDatabase } from '../helpers/db.js'

// The quarantine's file takes events the database refused even in its quarantine table. It is
// rewritten when events leave it (re-driven, erased) while the service may append to it: no
// appended line may be lost with the file it replaces.
t.test('appends racing rewrites of the quarantine file: every appended event survives', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-quarantine-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A database of its own without searchtrack's tables: the quarantine table is refused, so
  // events go to the file.
  const { url } = await createBareDatabase(t, 'st_no_tables')
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const quarantine = new Quarantine(pool, dir, pino({ level: 'silent' }))
  const event = (i: number, kind: string) => newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: `${kind}-${i}`, queryText: 'q' })
  const refusal = Object.assign(new Error('value too long'), { code: '22001' })

  const leaving = Array.from({ length: 60 }, (_, i) => event(i, 'leaving'))
  for (const e of leaving) t.equal(await quarantine.add(e, refusal), 'file')
  const staying = Array.from({ length: 150 }, (_, i) => event(i, 'staying'))

  // Rewrites of ten events each, interleaved with the appends.
  const rewrites = Array.from({ length: 6 }, (_, k) => dropFromFile(dir, new Set(leaving.slice(k * 10, k * 10 + 10).map((e) => e.eventId))))
  await Promise.all([...staying.map((e) => quarantine.add(e, refusal)), ...rewrites])

  const ids = (await readFile(path.join(dir, QUARANTINE_FILE), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { event: { eventId: string } }).event.eventId)
  t.same(ids.filter((id) => leaving.some((e) => e.eventId === id)), [], 'the events that left are gone')
  t.same(staying.filter((e) => !ids.includes(e.eventId)).length, 0, 'all 150 appended events are there')
  t.equal(ids.length, 150)
  // Ended here; the teardown waits for its connections to close before dropping the database.
  await pool.end()
})
