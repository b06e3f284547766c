import t from 'tap'
import { createKey } from '../helpers/app.js'
import { axeViolations, dashboardApp, openDashboard, signIn, textOf } from './helpers.js'

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'

// The admin pages over the admin API: a key created in the page works for ingest until it is
// revoked in the page, then it is refused.
t.test('an admin creates a key, sees its secret once, revokes it; the revoked key is refused', async (t) => {
  const d = await dashboardApp(t, async () => {})
  const admin = (await createKey(d.r.app, 'acme', ['analytics:read', 'admin'])).key
  const { page, errors } = await openDashboard(d, '/dashboard')
  const a11y: Record<string, string[]> = {}
  await signIn(page, admin)
  await page.getByRole('link', { name: 'Keys' }).click()
  await page.getByRole('heading', { name: 'Keys of acme' }).waitFor()
  await page.locator('tbody tr').first().waitFor()
  a11y.keys = await axeViolations(page)

  await page.getByLabel('Name').fill('search page')
  t.ok(await page.getByLabel('analytics:push').isChecked(), 'a push key by default')
  await page.getByRole('button', { name: 'Create key' }).click()
  const secret = await textOf(page, '[data-secret]')
  t.match(secret, /^st_[0-9a-f]{16}_/)
  await page.locator('td', { hasText: 'search page' }).waitFor()

  const ingest = (key: string) => d.r.app.inject({
    method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${key}`, 'user-agent': UA },
    payload: { language: 'en', queryText: 'hello', actionCause: 'searchboxSubmit', searchQueryUid: 'u1', numberOfResults: 1, responseTime: 10, originLevel1: 'Support', clientId: 'v1' },
  })
  const accepted = await ingest(secret)
  t.equal(accepted.statusCode, 200, `the new key is accepted: ${accepted.body}`)

  page.once('dialog', (dialog) => void dialog.accept())
  await page.getByRole('button', { name: 'Revoke search page' }).click()
  await page.getByText('Revoked search page').waitFor()
  await page.locator('tr', { hasText: 'search page' }).getByText(/^revoked/).waitFor()
  const refused = await ingest(secret)
  // Coveo's write API answers an unknown or revoked token 400 InvalidToken (its own shape).
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().type, 'InvalidToken', 'the revoked key is refused')

  // Organizations: allowed origins edited through the page.
  await page.getByRole('link', { name: 'Organizations' }).click()
  await page.getByRole('heading', { name: 'Edit acme' }).waitFor()
  await page.getByRole('form').first().waitFor().catch(() => undefined)
  await page.locator('form', { hasText: 'Edit acme' }).getByLabel(/Allowed origins/).fill('https://www.example.com')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText('Saved').waitFor()
  t.same((await d.r.app.keys.getOrg('acme'))!.allowedOrigins, ['https://www.example.com'])
  await page.locator('td', { hasText: 'https://www.example.com' }).waitFor()
  a11y.orgs = await axeViolations(page)

  // Inbenta priorities.
  await page.getByRole('link', { name: 'Inbenta priorities' }).click()
  await page.getByLabel('Data key', { exact: true }).fill('MY_CUSTOM_KEY')
  await page.getByLabel('Priority', { exact: true }).fill('7')
  await page.getByRole('button', { name: 'Set', exact: true }).click()
  await page.locator('tr', { hasText: 'MY_CUSTOM_KEY' }).locator('td[data-col=priority]', { hasText: '7' }).waitFor()
  a11y.priorities = await axeViolations(page)

  // The audit log names what was done.
  await page.getByRole('link', { name: 'Audit log' }).click()
  await page.locator('tbody tr').first().waitFor()
  const actions = await page.locator('td[data-col=action]').allInnerTexts()
  t.ok(actions.length >= 3, `audit rows: ${actions.join(', ')}`)
  t.notMatch(await page.locator('table').innerText(), secret.split('_')[2]!, 'no secret in the audit log')
  a11y.audit = await axeViolations(page)

  t.same(errors, [], 'no console error')
  for (const [view, violations] of Object.entries(a11y)) t.same(violations, [], `axe: ${view}`)
})

t.test('a key without admin sees no admin page', async (t) => {
  const d = await dashboardApp(t, async () => {})
  const { page } = await openDashboard(d, '/dashboard/admin/keys')
  await signIn(page, d.r.read)
  await page.getByText('This key has no').waitFor()
  t.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0)
})
