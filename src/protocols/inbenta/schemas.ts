import Type from 'typebox'

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.Integer(), message: Type.String() }),
})

export const TokenResponse = Type.Object({
  accessToken: Type.String(),
  expiration: Type.Integer({ description: 'Unix time (s) the token expires at' }),
  expires_in: Type.Integer({ description: 'Seconds the token is valid for' }),
})

export const AuthResponse = Type.Object({
  ...TokenResponse.properties,
  apis: Type.Object({ search: Type.String(), tracking: Type.String() }),
})

export const AuthBody = Type.Object({ secret: Type.String({ minLength: 1, maxLength: 256 }) })

export const SessionResponse = Type.Object({ sessionToken: Type.String(), sessionId: Type.String() })

export const UserInfoBody = Type.Object({ data: Type.Record(Type.String(), Type.Unknown()) })

export const TrackedResponse = Type.Object({
  logs: Type.Array(Type.Union([Type.Literal('atomic'), Type.Literal('session')])),
  sessionId: Type.Union([Type.String(), Type.Null()]),
})

export const EventBody = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})

const ResultId = Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })])

export const SearchBody = Type.Object({
  query: Type.String({ maxLength: 2048 }),
  results: Type.Array(
    Type.Object({
      id: ResultId,
      position: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
      title: Type.Optional(Type.String({ maxLength: 1024 })),
      url: Type.Optional(Type.String({ maxLength: 2048 })),
      source: Type.Optional(Type.String({ maxLength: 256 })),
    }),
    { maxItems: 1000 },
  ),
  /** The instance the results come from when it is not this one (external matchings). */
  instance: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' })),
  numberOfResults: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  responseTimeMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})

export const SearchResponse = Type.Object({
  tracking: Type.Object({ searchCode: Type.String() }),
  results: Type.Array(
    Type.Object({
      id: ResultId,
      tracking: Type.Object({ clickCode: Type.String(), rateCode: Type.String(), externalCode: Type.String() }),
    }),
  ),
  sessionId: Type.Union([Type.String(), Type.Null()]),
})

const Action = Type.Object({
  eventId: Type.String(),
  at: Type.String(),
  type: Type.String(),
  dataKey: Type.String(),
  logType: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Integer(),
  documentId: Type.Union([Type.String(), Type.Null()]),
  position: Type.Union([Type.Integer(), Type.Null()]),
  searchQueryUid: Type.Union([Type.String(), Type.Null()]),
  query: Type.Union([Type.String(), Type.Null()]),
  value: Type.Union([Type.String(), Type.Null()]),
  data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
})

export const SessionReportResponse = Type.Object({
  sessionId: Type.String(),
  startedAt: Type.String(),
  lastActionAt: Type.String(),
  actions: Type.Array(Action),
  result: Type.Union([
    Type.Object({ dataKey: Type.String(), priority: Type.Integer(), eventId: Type.String(), at: Type.String() }),
    Type.Null(),
  ]),
})

export const ResultsQuery = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
})

export const ResultsResponse = Type.Object({
  from: Type.String(),
  to: Type.String(),
  sessions: Type.Integer(),
  withoutResult: Type.Integer(),
  results: Type.Array(Type.Object({ dataKey: Type.String(), priority: Type.Integer(), sessions: Type.Integer() })),
})

export const DataKeysResponse = Type.Object({
  dataKeys: Type.Array(
    Type.Object({
      dataKey: Type.String(),
      priority: Type.Integer(),
      source: Type.Union([Type.Literal('default'), Type.Literal('custom'), Type.Literal('override')]),
    }),
  ),
})
