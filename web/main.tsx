import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { request, storedKey, storeKey, ApiError } from './api.js'
import { Link, Loading } from './components.js'
import { BASE, navigate, useLocation } from './router.js'
import { Overview } from './views/overview.js'
import { QueryDetail, Queries } from './views/queries.js'
import { ContentGaps } from './views/gaps.js'
import { DocumentDetail, Documents } from './views/documents.js'
import { VisitDetail, Visits } from './views/visits.js'
import { Sessions } from './views/sessions.js'
import { Feedback } from './views/feedback.js'
import { Quality } from './views/quality.js'
import { AdminAudit, AdminKeys, AdminOrgs, AdminPriorities } from './views/admin.js'
import './style.css'

const NAV: Array<[string, string]> = [
  ['', 'Overview'], ['/queries', 'Queries'], ['/content-gaps', 'Content gaps'], ['/documents', 'Documents'], ['/visits', 'Visits'],
  ['/sessions', 'Sessions & deflection'], ['/feedback', 'Feedback'], ['/quality', 'Data quality'],
]
const ADMIN_NAV: Array<[string, string]> = [['/admin', 'Organizations'], ['/admin/keys', 'Keys'], ['/admin/priorities', 'Inbenta priorities'], ['/admin/audit', 'Audit log']]

// Shared parameters (range, comparison, filters) follow the user from view to view.
function carried(): string {
  const query = new URLSearchParams(location.search)
  const keep = new URLSearchParams()
  for (const name of ['range', 'from', 'to', 'tz', 'compare', 'f', 'bots', 'org']) for (const v of query.getAll(name)) keep.append(name, v)
  const text = keep.toString()
  return text ? `?${text}` : ''
}

type Theme = 'light' | 'dark' | null
function applyTheme(theme: Theme) {
  if (theme) document.documentElement.dataset.theme = theme
  else delete document.documentElement.dataset.theme
}
applyTheme(localStorage.getItem('searchtrack.theme') as Theme)

function ThemeToggle() {
  const dark = () => document.documentElement.dataset.theme === 'dark' || (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches)
  const [isDark, setDark] = useState(dark())
  return (
    <button type="button" class="ghost" aria-pressed={isDark} onClick={() => {
      const next: Theme = isDark ? 'light' : 'dark'
      localStorage.setItem('searchtrack.theme', next)
      applyTheme(next)
      setDark(!isDark)
    }}>{isDark ? 'Light theme' : 'Dark theme'}</button>
  )
}

function SignIn({ onSignedIn }: { onSignedIn: (org: string) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const answer = await request<unknown>('/api/v1/overview', new URLSearchParams({ range: 'today', compare: 'none', metrics: 'searches' }), { key: key.trim() })
      storeKey(key.trim())
      if (answer.meta.org) sessionStorage.setItem('searchtrack.org', answer.meta.org)
      onSignedIn(answer.meta.org ?? '')
    } catch (err) {
      const e = err as ApiError
      setError(e.status === 401 ? 'This key is unknown or revoked.' : e.status === 403 ? 'This key may not read reports: it needs the analytics:read privilege.'
        : e.type === 'OrgRequired' ? 'A platform key reads several organizations: add ?org=<org> to the address.' : e.message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="signin" id="main">
      <h1>searchtrack</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="key">API key</label>
        <input id="key" name="key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} placeholder="st_…" />
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error && <p role="alert" class="error-text">{error}</p>}
      </form>
      <p id="signin-help" class="muted">
        Paste a key with the <code>analytics:read</code> privilege (the first start prints one named <code>dashboard</code>;
        or <code>npm run cli -- keys create --org &lt;org&gt; --privileges analytics:read,admin</code>). It stays in this tab
        only and is forgotten when the tab closes.
      </p>
    </main>
  )
}

function Page({ path }: { path: string }) {
  const sub = path.slice(BASE.length)
  if (sub === '' || sub === '/overview') return <Overview />
  if (sub === '/queries') return <Queries />
  if (sub === '/queries/detail') return <QueryDetail />
  if (sub === '/content-gaps') return <ContentGaps />
  if (sub === '/documents') return <Documents />
  if (sub === '/documents/detail') return <DocumentDetail />
  if (sub === '/visits') return <Visits />
  if (sub.startsWith('/visits/')) return <VisitDetail visitId={decodeURIComponent(sub.slice('/visits/'.length))} />
  if (sub === '/sessions') return <Sessions />
  if (sub === '/feedback') return <Feedback />
  if (sub === '/quality') return <Quality />
  if (sub === '/admin') return <AdminOrgs />
  if (sub === '/admin/keys') return <AdminKeys />
  if (sub === '/admin/priorities') return <AdminPriorities />
  if (sub === '/admin/audit') return <AdminAudit />
  return (
    <section>
      <h1>Not found</h1>
      <p>No dashboard page at {path}. <Link href={BASE}>Go to the overview</Link>.</p>
    </section>
  )
}

function App() {
  const { path } = useLocation()
  const [signedIn, setSignedIn] = useState(storedKey() !== null)
  const [org, setOrg] = useState<string | null>(null)
  // null until the admin probe answers.
  const [admin, setAdmin] = useState<boolean | null>(null)
  const [menu, setMenu] = useState(false)
  useEffect(() => {
    if (!signedIn) return
    // Admin pages show when the key may call an admin route (200), not when it is refused (403).
    request<unknown>('/api/v1/admin/orgs').then(() => setAdmin(true), () => setAdmin(false))
    // The org a key reads is in every report's meta: remembered from sign-in, else asked once
    // (the cheapest report), which also finds a key revoked since.
    const known = sessionStorage.getItem('searchtrack.org')
    if (known) setOrg(known)
    else {
      request<unknown>('/api/v1/overview', new URLSearchParams({ range: 'today', compare: 'none', metrics: 'searches' }))
        .then((a) => {
          setOrg(a.meta.org ?? null)
          if (a.meta.org) sessionStorage.setItem('searchtrack.org', a.meta.org)
        }, (err: ApiError) => {
          if (err.status === 401) signOut()
        })
    }
  }, [signedIn])
  useEffect(() => setMenu(false), [path])
  const signOut = () => {
    storeKey(null)
    sessionStorage.removeItem('searchtrack.org')
    setSignedIn(false)
    setAdmin(null)
    setOrg(null)
  }
  if (!signedIn) return <SignIn onSignedIn={(o) => { setOrg(o); setSignedIn(true) }} />
  const isAdminPage = path.startsWith(`${BASE}/admin`)
  const items = [...NAV, ...(admin ? ADMIN_NAV : [])]
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href={BASE + carried()} class="brand">searchtrack</Link>
        {org && <span class="muted org">org {org}</span>}
        <button type="button" class="ghost menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>Menu</button>
        <div class="top-actions">
          <ThemeToggle />
          <button type="button" class="ghost" onClick={() => { signOut(); navigate(BASE) }}>Sign out</button>
        </div>
      </header>
      <div class="layout">
        <nav id="nav" aria-label="Reports" class={menu ? 'open' : ''}>
          <ul>
            {items.map(([sub, text], i) => {
              const href = BASE + sub
              const current = sub === '' ? path === BASE || path === `${BASE}/overview` : sub === '/admin' ? path === href : path === href || path.startsWith(`${href}/`)
              return (
                <li key={sub} class={i === NAV.length ? 'nav-group' : ''}>
                  <Link href={href + (sub.startsWith('/admin') ? '' : carried())} aria-current={current ? 'page' : undefined}>{text}</Link>
                </li>
              )
            })}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {isAdminPage && admin === null ? <Loading what="your privileges" />
            : isAdminPage && !admin ? <section><h1>Administration</h1><p>This key has no <code>admin</code> privilege.</p></section> : <Page path={path} />}
        </main>
      </div>
    </>
  )
}

const root = document.getElementById('app')!
// The page's "Loading…" placeholder goes: Preact renders beside what is there, not over it.
root.textContent = ''
render(<App />, root)
