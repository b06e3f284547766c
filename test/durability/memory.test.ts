import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { createHmac, randomBytes } from 'node:crypto'
import pg from 'pg'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, tempDir } from '../reliability/helpers.js'
import { startService } from '../reliability/process.js'
import { SEARCH } from '../coveo/helpers.js'
import { KeyStore } from '../../src/auth/keys.js'

// Without any credentials, an attacker must not be able to grow the service's memory or hold its
// connections: unique junk tokens, and a thousand bodies trickled in a byte at a time. The
// service is the built one, in a process of its own, and its peak RSS is read from the kernel.

const RSS_LIMIT_MB = 300

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024
}

/** An HS256 JWT naming an organization, signed with a key nobody has. */
function junkToken(): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ organization: `org-${randomBytes(6).toString('hex')}`, userIds: [{ name: 'x' }] })}`
  return `${body}.${createHmac('sha256', randomBytes(32)).update(body).digest('base64url')}`
}

/** A request whose body arrives a few bytes at a time, for as long as the server keeps the socket. */
function trickle(port: number, path: string, headers: string[], chunk: string): { closed: Promise<string> } {
  const socket: Socket = connect(port, '127.0.0.1')
  let answer = ''
  socket.on('data', (d) => (answer += d))
  socket.on('error', () => {})
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.join('\r\n')}\r\n\r\n`)
  const timer = setInterval(() => socket.writable && socket.write(chunk), 100)
  const closed = new Promise<string>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer)
      resolve(answer.split('\r\n')[0] ?? '')
    }),
  )
  return { closed }
}

t.test(`unique-token floods and a thousand trickled bodies: bounded memory (< ${RSS_LIMIT_MB} MB), connections cut, service answering`, async (t) => {
  const url = await createTestDatabase(t)
  const port = await freePort()
  const service = await startService({
    DATABASE_URL: url, DATA_DIR: await tempDir(t, 'searchtrack-memory-'), REQUEST_TIMEOUT_MS: '3000',
    RATE_LIMIT_PER_MINUTE: '0', AUTH_FAILURES_PER_MINUTE: '0',
  }, port)
  t.teardown(() => service.signal('SIGKILL'))
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  t.teardown(() => pool.end())
  const keys = new KeyStore(pool)
  await keys.createOrg('acme')
  const { key } = await keys.createKey({ orgId: 'acme', privileges: ['analytics:push'] })
  const search = (authorization: string) =>
    fetch(`${service.base}/rest/ua/v15/analytics/search`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(SEARCH) })

  // 1. 20,000 unique tokens (unknown orgs) and unknown key ids: each refused, nothing remembered.
  const statuses = new Map<number, number>()
  let sent = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (sent < 20_000) {
      const token = sent++ % 2 ? junkToken() : `st_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`
      const r = await search(`Bearer ${token}`)
      await r.arrayBuffer()
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
    }
  }))
  t.same([...statuses.keys()], [400], `20,000 junk tokens refused (${JSON.stringify(Object.fromEntries(statuses))})`)
  const afterFlood = await peakRssMb(service.child.pid!)
  t.comment(`peak RSS after the token flood: ${afterFlood.toFixed(0)} MB`)

  // 2. Trickled bodies: without credentials (declared large, or chunked), and with a valid key.
  const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
  const each = Math.max(50, Math.min(500, Math.floor((fdLimit - 200) / 4)))
  const anonymous = 'content-type: application/x-www-form-urlencoded'
  const slow = [
    ...Array.from({ length: each }, () => trickle(port, '/rest/ua/v15/analytics/click', [anonymous, 'content-length: 1000000'], 'a')),
    ...Array.from({ length: each }, () => trickle(port, '/rest/ua/v15/analytics/click', [anonymous, 'transfer-encoding: chunked'], '400\r\n' + 'a'.repeat(1024) + '\r\n')),
    ...Array.from({ length: 100 }, () => trickle(port, '/rest/ua/v15/analytics/search', [`authorization: Bearer ${key}`, 'content-type: application/json', 'content-length: 1000000'], 'a'.repeat(1024))),
  ]
  const started = Date.now()
  const normal = await search(`Bearer ${key}`)
  const normalMs = Date.now() - started
  t.equal(normal.status, 200, 'a well-behaved request is answered meanwhile')
  const lines = await Promise.all(slow.map((s) => s.closed))
  const byStatus = new Map<string, number>()
  for (const line of lines) byStatus.set(line || '(closed)', (byStatus.get(line || '(closed)') ?? 0) + 1)
  t.comment(`${slow.length} trickled requests ended: ${JSON.stringify(Object.fromEntries(byStatus))}; a normal request took ${normalMs} ms meanwhile`)
  t.ok(lines.every((l) => /^HTTP\/1\.1 (408|413)/.test(l) || l === ''), 'every trickled request was refused (413) or cut (408)')
  t.ok(lines.slice(0, each).every((l) => l.startsWith('HTTP/1.1 413')), 'a large body declared without credentials: 413 before it is read')

  const peak = await peakRssMb(service.child.pid!)
  t.comment(`peak RSS of the service through it all: ${peak.toFixed(0)} MB`)
  t.ok(peak < RSS_LIMIT_MB, `peak RSS ${peak.toFixed(0)} MB < ${RSS_LIMIT_MB} MB`)
  t.equal((await fetch(`${service.base}/health`)).status, 200, 'alive')
})
