import { useEffect, useState } from 'preact/hooks'

// Real paths under /dashboard/ (the service answers every one with this page), the state of a
// view (range, comparison, filters, tab, sort) in the query string so that a view can be bookmarked.
export const BASE = '/dashboard'

type Listener = () => void
const listeners = new Set<Listener>()
const notify = () => listeners.forEach((l) => l())
window.addEventListener('popstate', notify)

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  notify()
  if (!replace) window.scrollTo(0, 0)
}

export interface Location {
  path: string
  query: URLSearchParams
}

export function useLocation(): Location {
  const [, setTick] = useState(0)
  useEffect(() => {
    const l = () => setTick((n) => n + 1)
    listeners.add(l)
    return () => void listeners.delete(l)
  }, [])
  let path = location.pathname
  if (path === '/' || path === '') path = BASE
  return { path: path.replace(/\/+$/, '') || BASE, query: new URLSearchParams(location.search) }
}

/** The current query string with some parameters changed (null or '' removes one). */
export function withQuery(changes: Record<string, string | null | undefined>, path = location.pathname): string {
  const query = new URLSearchParams(location.search)
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === '') query.delete(name)
    else query.set(name, value)
  }
  const text = query.toString()
  return text ? `${path}?${text}` : path
}

export function setQuery(changes: Record<string, string | null | undefined>): void {
  navigate(withQuery(changes), true)
}

/** A same-origin link click handled on the page (modified clicks open tabs as usual). */
export function onLinkClick(event: MouseEvent): void {
  const a = event.currentTarget as HTMLAnchorElement
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  if (a.target || a.origin !== location.origin) return
  event.preventDefault()
  navigate(a.pathname + a.search)
}
