// The part of fs-native-extensions (Apache-2.0) the spool and the quarantine use; the package
// ships no types.
declare module 'fs-native-extensions' {
  /** An exclusive (or shared) lock on an open file: false when another holder has it. */
  export function tryLock(fd: number, opts?: { shared?: boolean }): boolean
  /** The same lock, waited for (in the thread pool, so the event loop runs meanwhile). */
  export function waitForLock(fd: number, opts?: { shared?: boolean }): Promise<void>
  export function unlock(fd: number): void
}
