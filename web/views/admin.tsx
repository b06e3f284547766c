import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, request } from '../api.js'
import { ErrorState, Loading, Table } from '../components.js'
import { formatTime } from '../format.js'
import { useApi } from '../hooks.js'
import { setQuery, useLocation } from '../router.js'

// The admin API (docs/admin.md): an org key with `admin` manages its own org; a platform
// admin key manages every org and may create orgs.
interface Org { id: string; name: string | null; allowedOrigins: string[] | null; createdAt: string }
interface Key { id: string; name: string | null; privileges: string[]; platformOrgs: string[] | null; createdAt: string; revokedAt: string | null }
interface AuditRow { id: string; at: string; actor: string; orgId: string | null; action: string; target: string | null; details: unknown }
const PRIVILEGES = ['analytics:push', 'analytics:read', 'impersonate', 'admin']
const orgPath = (org: string) => `/api/v1/admin/orgs/${encodeURIComponent(org)}`

function Result({ error, ok }: { error: string | null; ok?: string | null }) {
  if (error) return <p role="alert" class="error-text">{error}</p>
  if (ok) return <p role="status" class="ok-text">{ok}</p>
  return null
}

function message(err: unknown): string {
  return err instanceof ApiError ? `${err.type}: ${err.message}` : String(err)
}

/** Which org the page manages: ?org= in the URL, else the first the key may manage. */
function useOrgChoice(): { orgs: Org[] | null; org: string | null; picker: ComponentChildren; error: ApiError | null } {
  const { query } = useLocation()
  const list = useApi<Org[]>('/api/v1/admin/orgs')
  const orgs = list.answer?.data ?? null
  const org = query.get('org') ?? orgs?.[0]?.id ?? null
  const picker = orgs && orgs.length > 1 ? (
    <div class="field org-picker">
      <label for="org-picker">Organization</label>
      <select id="org-picker" value={org ?? ''} onChange={(e) => setQuery({ org: e.currentTarget.value })}>
        {orgs.map((o) => <option value={o.id} key={o.id}>{o.name ? `${o.name} (${o.id})` : o.id}</option>)}
      </select>
    </div>
  ) : null
  return { orgs, org, picker, error: list.error }
}

function OriginsInput({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return (
    <label>Allowed origins <span class="muted">(one per line; empty: any origin)</span>
      <textarea rows={3} value={value} onInput={(e) => onInput(e.currentTarget.value)} placeholder="https://www.example.com" />
    </label>
  )
}
const parseOrigins = (text: string): string[] | null => {
  const list = text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean)
  return list.length ? list : null
}

function EditOrg({ org, onSaved }: { org: Org; onSaved: () => void }) {
  const [name, setName] = useState(org.name ?? '')
  const [origins, setOrigins] = useState((org.allowedOrigins ?? []).join('\n'))
  const [state, setState] = useState<{ error: string | null; ok: string | null }>({ error: null, ok: null })
  useEffect(() => {
    setName(org.name ?? '')
    setOrigins((org.allowedOrigins ?? []).join('\n'))
  }, [org.id])
  return (
    <form class="card form" onSubmit={(e) => {
      e.preventDefault()
      request<Org>(orgPath(org.id), undefined, { method: 'PATCH', body: { name: name.trim() || undefined, allowedOrigins: parseOrigins(origins) } })
        .then(() => { setState({ error: null, ok: 'Saved' }); onSaved() }, (err) => setState({ error: message(err), ok: null }))
    }}>
      <h2>Edit {org.id}</h2>
      <label>Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <OriginsInput value={origins} onInput={setOrigins} />
      <button type="submit">Save</button>
      <Result {...state} />
    </form>
  )
}

function CreateOrg({ onCreated }: { onCreated: () => void }) {
  const [id, setId] = useState('')
  const [name, setName] = useState('')
  const [origins, setOrigins] = useState('')
  const [state, setState] = useState<{ error: string | null; ok: string | null }>({ error: null, ok: null })
  return (
    <form class="card form" onSubmit={(e) => {
      e.preventDefault()
      request<Org>('/api/v1/admin/orgs', undefined, { method: 'POST', body: { id: id.trim(), ...(name.trim() ? { name: name.trim() } : {}), allowedOrigins: parseOrigins(origins) } })
        .then(() => { setState({ error: null, ok: `Created ${id.trim()}` }); setId(''); onCreated() }, (err) => setState({ error: message(err), ok: null }))
    }}>
      <h2>New organization</h2>
      <p class="muted">Needs a platform admin key.</p>
      <label>Id <input required value={id} onInput={(e) => setId(e.currentTarget.value)} pattern="[A-Za-z0-9_.\-]+" /></label>
      <label>Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <OriginsInput value={origins} onInput={setOrigins} />
      <button type="submit">Create</button>
      <Result {...state} />
    </form>
  )
}

export function AdminOrgs() {
  const { query } = useLocation()
  const list = useApi<Org[]>('/api/v1/admin/orgs')
  const orgs = list.answer?.data ?? []
  const selected = orgs.find((o) => o.id === query.get('org')) ?? orgs[0]
  return (
    <section aria-labelledby="title">
      <h1 id="title">Organizations</h1>
      {list.error ? <ErrorState error={list.error} retry={list.reload} /> : list.loading ? <Loading what="organizations" /> : (
        <>
          <Table caption="Organizations" query={query} rows={orgs as unknown as Array<Record<string, unknown>>} defaultSort="createdAt" columns={[
            { key: 'id', label: 'Id', render: (r) => <button type="button" class="linkish" onClick={() => setQuery({ org: String(r.id) })}>{String(r.id)}</button> },
            { key: 'name', label: 'Name', render: (r) => String(r.name ?? '') },
            { key: 'allowedOrigins', label: 'Allowed origins', sortable: false, render: (r) => (r.allowedOrigins ? (r.allowedOrigins as string[]).join(', ') : <span class="muted">any</span>) },
            { key: 'createdAt', label: 'Created', render: (r) => formatTime(String(r.createdAt)) },
          ]} />
          <div class="grid2">
            {selected && <EditOrg org={selected} onSaved={list.reload} />}
            <CreateOrg onCreated={list.reload} />
          </div>
        </>
      )}
    </section>
  )
}

export function AdminKeys() {
  const { query } = useLocation()
  const { org, picker, error } = useOrgChoice()
  const keys = useApi<Key[]>(org ? `${orgPath(org)}/keys` : null)
  const [privileges, setPrivileges] = useState<string[]>(['analytics:push'])
  const [name, setName] = useState('')
  const [created, setCreated] = useState<(Key & { key: string }) | null>(null)
  const [state, setState] = useState<{ error: string | null; ok: string | null }>({ error: null, ok: null })
  const revoke = (key: Key) => {
    if (!confirm(`Revoke the key ${key.name ?? key.id}? Clients using it are refused at once.`)) return
    request<Key>(`${orgPath(org!)}/keys/${encodeURIComponent(key.id)}`, undefined, { method: 'DELETE' })
      .then(() => { setState({ error: null, ok: `Revoked ${key.name ?? key.id}` }); keys.reload() }, (err) => setState({ error: message(err), ok: null }))
  }
  return (
    <section aria-labelledby="title">
      <h1 id="title">Keys{org ? ` of ${org}` : ''}</h1>
      {picker}
      {error ? <ErrorState error={error} /> : !org ? <Loading what="organizations" /> : (
        <>
          <form class="card form" onSubmit={(e) => {
            e.preventDefault()
            setCreated(null)
            request<Key & { key: string }>(`${orgPath(org)}/keys`, undefined, { method: 'POST', body: { privileges, ...(name.trim() ? { name: name.trim() } : {}) } })
              .then((a) => { setCreated(a.data); setState({ error: null, ok: null }); setName(''); keys.reload() }, (err) => setState({ error: message(err), ok: null }))
          }}>
            <h2>New key</h2>
            <label>Name <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="search page" /></label>
            <fieldset>
              <legend>Privileges</legend>
              {PRIVILEGES.map((p) => (
                <label class="checkbox" key={p}>
                  <input type="checkbox" name="privileges" value={p} checked={privileges.includes(p)}
                    onChange={(e) => setPrivileges(e.currentTarget.checked ? [...privileges, p] : privileges.filter((x) => x !== p))} /> {p}
                </label>
              ))}
            </fieldset>
            <button type="submit" disabled={privileges.length === 0}>Create key</button>
          </form>
          {created && (
            <div class="card secret" role="status">
              <p><strong>The key, shown once:</strong> copy it now.</p>
              <pre class="code" tabIndex={0} data-secret>{created.key}</pre>
              <button type="button" onClick={() => void navigator.clipboard.writeText(created.key).catch(() => undefined)}>Copy</button>
            </div>
          )}
          <Result {...state} />
          {keys.error ? <ErrorState error={keys.error} retry={keys.reload} /> : keys.loading ? <Loading what="keys" /> : (
            <Table caption="Keys" query={query} rows={(keys.answer?.data ?? []) as unknown as Array<Record<string, unknown>>} defaultSort="createdAt" columns={[
              { key: 'name', label: 'Name', render: (r) => (r.name ? String(r.name) : <span class="muted">(no name)</span>) },
              { key: 'id', label: 'Id', render: (r) => <code>{String(r.id)}</code> },
              { key: 'privileges', label: 'Privileges', sortable: false, render: (r) => (r.privileges as string[]).join(', ') },
              { key: 'createdAt', label: 'Created', render: (r) => formatTime(String(r.createdAt)) },
              { key: 'revokedAt', label: 'Status', render: (r) => (r.revokedAt ? `revoked ${formatTime(String(r.revokedAt))}` : (
                <button type="button" class="small danger" onClick={() => revoke(r as unknown as Key)} aria-label={`Revoke ${String(r.name ?? r.id)}`}>Revoke</button>
              )) },
            ]} />
          )}
        </>
      )}
    </section>
  )
}

export function AdminPriorities() {
  const { query } = useLocation()
  const { org, picker, error } = useOrgChoice()
  const list = useApi<Array<{ key: string; priority: number }>>(org ? `${orgPath(org)}/inbenta/priorities` : null)
  const [key, setKey] = useState('')
  const [priority, setPriority] = useState('')
  const [state, setState] = useState<{ error: string | null; ok: string | null }>({ error: null, ok: null })
  const done = (ok: string) => () => { setState({ error: null, ok }); list.reload() }
  const failed = (err: unknown) => setState({ error: message(err), ok: null })
  return (
    <section aria-labelledby="title">
      <h1 id="title">Inbenta priorities{org ? ` of ${org}` : ''}</h1>
      <p class="muted">A session's result is its action with the highest priority (docs/protocols/inbenta.md).</p>
      {picker}
      {error ? <ErrorState error={error} /> : !org ? <Loading what="organizations" /> : (
        <>
          <form class="card form inline" onSubmit={(e) => {
            e.preventDefault()
            request(`${orgPath(org)}/inbenta/priorities/${encodeURIComponent(key.trim())}`, undefined, { method: 'PUT', body: { priority: Number(priority) } })
              .then(done(`Set ${key.trim()}`), failed)
          }}>
            <label>Data key <input required value={key} onInput={(e) => setKey(e.currentTarget.value)} placeholder="CONTACT_TICKET" /></label>
            <label>Priority <input required type="number" step="1" value={priority} onInput={(e) => setPriority(e.currentTarget.value)} /></label>
            <button type="submit">Set</button>
          </form>
          <Result {...state} />
          {list.error ? <ErrorState error={list.error} retry={list.reload} /> : list.loading ? <Loading what="priorities" /> : (
            <Table caption="Priorities" query={query} rows={(list.answer?.data ?? []) as unknown as Array<Record<string, unknown>>} defaultSort="priority" columns={[
              { key: 'key', label: 'Data key' },
              { key: 'priority', label: 'Priority', numeric: true },
              { key: 'remove', label: '', sortable: false, render: (r) => (
                <button type="button" class="small" aria-label={`Remove the priority of ${String(r.key)}`} onClick={() =>
                  request(`${orgPath(org)}/inbenta/priorities/${encodeURIComponent(String(r.key))}`, undefined, { method: 'DELETE' }).then(done(`Removed ${String(r.key)}`), failed)}>Remove</button>
              ) },
            ]} />
          )}
        </>
      )}
    </section>
  )
}

export function AdminAudit() {
  const { query } = useLocation()
  const [pages, setPages] = useState<AuditRow[][]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const [loading, setLoading] = useState(true)
  const org = query.get('org')
  const load = (from: string | null) => {
    setLoading(true)
    const params = new URLSearchParams({ limit: '50' })
    if (org) params.set('org', org)
    if (from) params.set('cursor', from)
    request<{ rows: AuditRow[] }>('/api/v1/admin/audit', params).then((a) => {
      setPages((p) => (from ? [...p, a.data.rows] : [a.data.rows]))
      setCursor((a.meta as { nextCursor?: string | null }).nextCursor ?? null)
      setError(null)
    }, (err: ApiError) => setError(err)).finally(() => setLoading(false))
  }
  useEffect(() => load(null), [org])
  const rows = pages.flat()
  return (
    <section aria-labelledby="title">
      <h1 id="title">Audit log</h1>
      {error ? <ErrorState error={error} retry={() => load(null)} /> : (
        <>
          {rows.length === 0 && !loading ? <p class="state">Nothing recorded yet.</p> : (
            <Table caption="Audit log" query={query} rows={rows as unknown as Array<Record<string, unknown>>} columns={[
              { key: 'at', label: 'When', render: (r) => formatTime(String(r.at)) },
              { key: 'actor', label: 'Actor' },
              { key: 'orgId', label: 'Org', render: (r) => String(r.orgId ?? '') },
              { key: 'action', label: 'Action' },
              { key: 'target', label: 'Target', render: (r) => String(r.target ?? '') },
              { key: 'details', label: 'Details', sortable: false, render: (r) => (r.details ? <code>{JSON.stringify(r.details)}</code> : '') },
            ]} />
          )}
          {loading ? <Loading what="the audit log" /> : cursor ? <button type="button" onClick={() => load(cursor)}>Load more</button> : null}
        </>
      )}
    </section>
  )
}
