/**
 * Authentication and authorization failures. Protocol adapters render them in their own error
 * shapes (Coveo: 400 InvalidToken for an unknown token, Workplace: 401, Inbenta: 401/403).
 */
export type AuthErrorCode =
  | 'MissingToken' // no credentials at all
  | 'InvalidToken' // unknown, revoked, expired, badly signed or malformed
  | 'OrgRequired' // a platform key used without naming the org
  | 'Forbidden' // valid, but not for this org or without the privilege

export class AuthError extends Error {
  override name = 'AuthError'
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message)
  }
}
