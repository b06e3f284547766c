import { useEffect, useState } from 'preact/hooks'
import { ApiError, request, type Envelope } from './api.js'

export interface Loaded<T> {
  loading: boolean
  error: ApiError | null
  answer: Envelope<T> | null
  reload: () => void
}

/** GET an API path; refetched whenever the path or parameters change. */
export function useApi<T>(path: string | null, params?: URLSearchParams): Loaded<T> {
  const key = path === null ? null : `${path}?${params?.toString() ?? ''}`
  const [state, setState] = useState<{ key: string | null; answer: Envelope<T> | null; error: ApiError | null }>({ key: null, answer: null, error: null })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (path === null) return
    const controller = new AbortController()
    request<T>(path, params, { signal: controller.signal })
      .then((answer) => setState({ key, answer, error: null }))
      .catch((err: Error) => {
        if (err.name !== 'AbortError') setState({ key, answer: null, error: err instanceof ApiError ? err : new ApiError(0, 'Error', String(err)) })
      })
    return () => controller.abort()
  }, [key, tick])
  const current = state.key === key
  return { loading: !current, error: current ? state.error : null, answer: current ? state.answer : null, reload: () => setTick((n) => n + 1) }
}

/** The report parameters of the page's URL that every report takes (range, comparison, filters). */
export const SHARED = ['range', 'from', 'to', 'tz', 'compare', 'f', 'bots', 'hub', 'org']

export function reportParams(query: URLSearchParams, extra: Record<string, string | null | undefined> = {}): URLSearchParams {
  const out = new URLSearchParams()
  for (const name of SHARED) for (const v of query.getAll(name)) if (v) out.append(name, v)
  for (const [name, value] of Object.entries(extra)) if (value) out.set(name, value)
  return out
}
