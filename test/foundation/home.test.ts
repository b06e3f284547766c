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
  t.match(body.next.join('\n'), /dashboard/)
  // Every path it names is served.
  for (const path of ['/health', '/ready', '/metrics']) t.equal((await app.inject(path)).statusCode, 200, path)
  // curl's */* and an explicit JSON client keep getting JSON.
  for (const accept of ['*/*', 'application/json']) {
    t.match((await app.inject({ url: '/', headers: { accept } })).headers['content-type'], /^application\/json/, accept)
  }
})

t.test('GET / in a browser is the dashboard page; its assets are cached, typed and compressed', async (t) => {
  const { app } = await buildTestApp(t)
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
  const page = await app.inject({ url: '/', headers: { accept: browserAccept } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.equal(page.headers['cache-control'], 'no-cache')
  t.match(page.body, /<div id="app">/)
  const deep = await app.inject({ url: '/dashboard/queries/detail?query=vpn', headers: { accept: browserAccept } })
  t.equal(deep.statusCode, 200)
  t.equal(deep.body, page.body, 'every dashboard path is the same page')

  const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)![1]!
  const style = /href="(\/assets\/[^"]+\.css)"/.exec(page.body)![1]!
  const js = await app.inject({ url: script, headers: { 'accept-encoding': 'gzip, deflate, br' } })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /^text\/javascript/)
  t.equal(js.headers['content-encoding'], 'br')
  t.match(js.headers['cache-control'], /max-age=31536000/)
  const gz = await app.inject({ url: style, headers: { 'accept-encoding': 'gzip' } })
  t.match(gz.headers['content-type'], /^text\/css/)
  t.equal(gz.headers['content-encoding'], 'gzip')
  const plain = await app.inject({ url: style, headers: { 'accept-encoding': 'br;q=0, identity' } })
  t.notOk(plain.headers['content-encoding'], 'an encoding refused with q=0 is not sent')
  t.match(plain.body, /--accent/)
  t.equal((await app.inject('/assets/nothing.js')).statusCode, 404)
})
