import net from 'node:net'
import type { Test } from 'tap'

export interface TcpLink {
  /** `databaseUrl` with its host and port replaced by the link's. */
  url: string
  /** Drop every connection through the link and refuse new ones, as a lost network would. */
  cut(): Promise<void>
  /** Accept connections again, on the same port. */
  restore(): Promise<void>
}

/**
 * A TCP relay to the database of `databaseUrl` that a test can cut and restore: one instance
 * loses the database while others keep it.
 */
export async function tcpLink(t: Test, databaseUrl: string): Promise<TcpLink> {
  const target = new URL(databaseUrl)
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve((server.address() as net.AddressInfo).port)
      })
    })
  const port = await listen(0)
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    await closed
  }
  t.teardown(() => (server.listening ? cut() : undefined))
  return {
    url: url.toString(),
    cut,
    restore: async () => {
      await listen(port)
    },
  }
}
