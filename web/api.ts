// Calls to searchtrack's own API with the key the user signed in with. The key lives in
// sessionStorage only: it is gone when the tab closes, and never lands in a URL or a log.
const KEY_ITEM = 'searchtrack.key'

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM)
}
export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_ITEM, key)
  else sessionStorage.removeItem(KEY_ITEM)
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message)
  }
}

export interface Envelope<T> {
  data: T
  meta: Meta
}

export interface Meta {
  org?: string
  from?: string
  to?: string
  tz?: string
  interval?: string
  compare?: { from: string; to: string } | null
  filter?: string | null
  notMeasurable?: string[]
  nextCursor?: string | null
  freshness?: { completeUntil: string; lagSeconds: number; provisionalFrom: string }
}

export function apiUrl(path: string, params?: URLSearchParams): string {
  const query = params?.toString()
  return query ? `${path}?${query}` : path
}

export async function request<T>(path: string, params?: URLSearchParams, init: { method?: string; body?: unknown; key?: string; signal?: AbortSignal } = {}): Promise<Envelope<T>> {
  const key = init.key ?? storedKey()
  const headers: Record<string, string> = { accept: 'application/json' }
  if (key) headers.authorization = `Bearer ${key}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(apiUrl(path, params), {
      method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal,
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, 'NetworkError', 'The server did not answer. Is searchtrack running?')
  }
  const text = await res.text()
  let body: unknown = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = (body ?? {}) as { message?: string; type?: string }
    throw new ApiError(res.status, e.type ?? 'Error', e.message ?? `${res.status} ${res.statusText}`)
  }
  const envelope = (body ?? {}) as Partial<Envelope<T>>
  return { data: envelope.data as T, meta: envelope.meta ?? {} }
}

/** Fetch a list as CSV with the key in the header and hand it to the browser as a download. */
export async function downloadCsv(path: string, params: URLSearchParams, filename: string): Promise<void> {
  const query = new URLSearchParams(params)
  query.set('format', 'csv')
  const key = storedKey()
  const res = await fetch(apiUrl(path, query), { headers: { accept: 'text/csv', ...(key ? { authorization: `Bearer ${key}` } : {}) } })
  if (!res.ok) throw new ApiError(res.status, 'Error', `CSV export failed: ${res.status}`)
  const blob = await res.blob()
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
