/**
 * The one error registry: every `WARDEN_*` code, its HTTP status and what it means. Codes are
 * never reused or renumbered; `docs/errors.md` documents each one (a test keeps the two in sync).
 */

export const ERROR_REGISTRY = {
  WARDEN_VALIDATION: { status: 400, title: 'The request does not match the schema' },
  WARDEN_MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  WARDEN_UNAUTHENTICATED: { status: 401, title: 'No valid API key was presented' },
  WARDEN_FORBIDDEN: { status: 403, title: 'The API key lacks the role this needs' },
  WARDEN_SELF_APPROVAL: { status: 403, title: 'A requester cannot approve their own job' },
  WARDEN_NOT_FOUND: { status: 404, title: 'No such resource (or not visible to this key)' },
  WARDEN_ROUTE_NOT_FOUND: { status: 404, title: 'No such endpoint' },
  WARDEN_METHOD_NOT_ALLOWED: { status: 405, title: 'The endpoint does not accept this method' },
  WARDEN_IDEMPOTENCY_CONFLICT: {
    status: 409,
    title: 'The idempotency key was used with different content',
  },
  WARDEN_INVALID_STATE: { status: 409, title: 'The job is not in a state that allows this' },
  WARDEN_APPROVAL_RESOLVED: { status: 409, title: 'The approval is already resolved or expired' },
  WARDEN_JOB_HASH_MISMATCH: { status: 409, title: 'The job hash does not match the stored job' },
  WARDEN_LEASE_LOST: { status: 409, title: 'The lease no longer holds the job' },
  WARDEN_BODY_TOO_LARGE: { status: 413, title: 'The body exceeds the size limit' },
  WARDEN_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The body must be application/json' },
  WARDEN_POLICY_INVALID: { status: 422, title: 'The policy does not load' },
  WARDEN_RATE_LIMITED: { status: 429, title: 'Too many requests for this API key' },
  WARDEN_INTERNAL: { status: 500, title: 'An unexpected error' },
  WARDEN_STORE_UNAVAILABLE: {
    status: 503,
    title: 'The store is unavailable; nothing was released',
  },
  WARDEN_AUDIT_UNAVAILABLE: {
    status: 503,
    title: 'The audit trail cannot be written; nothing was released',
  },
} as const satisfies Record<string, { readonly status: number; readonly title: string }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** A failure that crosses the wire: a registered code, a message saying what to fix, details. */
export class WardenError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_REGISTRY[code].title,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'WardenError';
    this.status = ERROR_REGISTRY[code].status;
  }
}

export interface ErrorEnvelope {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly details: Readonly<Record<string, unknown>>;
  };
}

/** The wire form of an error (§12). */
export function errorEnvelope(error: WardenError): ErrorEnvelope {
  return { error: { code: error.code, message: error.message, details: error.details } };
}
