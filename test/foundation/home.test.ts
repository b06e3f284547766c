import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildTestApp } from '../helpers/app.js'

t.test('GET / says what the server is and where to go next', async (t) => {
  const { app } = await buildTestApp(t)
  const home = await app.inject('/')
  t.equal(home.statusCode, 200)
  t.match(home.headers['content-type'], /^application\/json/)
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  const body = home.json()
  t.match(body, { service: 'searchtrack', version, endpoints: { health: '/health', ready: '/ready', metrics: '/metrics' } })
  t.match(body.docs, /docs\/README\.md/)
  t.match(body.next.join('\n'), /keys create/)
  t.match(body.next.join('\n'), /db url/)
  // Every path it names is served.
  for (const path of ['/health', '/ready', '/metrics']) t.equal((await app.inject(path)).statusCode, 200, path)
})
