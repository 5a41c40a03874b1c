/**
 * The error registry: status matrix pinned, codes well-formed, and docs/errors.md in sync.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_REGISTRY, errorEnvelope, WardenError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/errors.js';

describe('error registry', () => {
  it('pins the code → status matrix', () => {
    const statuses = Object.fromEntries(
      Object.entries(ERROR_REGISTRY).map(([code, e]) => [code, e.status]),
    );
    assert.deepEqual(statuses, {
      WARDEN_VALIDATION: 400,
      WARDEN_MALFORMED_JSON: 400,
      WARDEN_UNAUTHENTICATED: 401,
      WARDEN_FORBIDDEN: 403,
      WARDEN_SELF_APPROVAL: 403,
      WARDEN_NOT_FOUND: 404,
      WARDEN_ROUTE_NOT_FOUND: 404,
      WARDEN_METHOD_NOT_ALLOWED: 405,
      WARDEN_IDEMPOTENCY_CONFLICT: 409,
      WARDEN_INVALID_STATE: 409,
      WARDEN_APPROVAL_RESOLVED: 409,
      WARDEN_JOB_HASH_MISMATCH: 409,
      WARDEN_LEASE_LOST: 409,
      WARDEN_BODY_TOO_LARGE: 413,
      WARDEN_UNSUPPORTED_MEDIA_TYPE: 415,
      WARDEN_POLICY_INVALID: 422,
      WARDEN_RATE_LIMITED: 429,
      WARDEN_INTERNAL: 500,
      WARDEN_STORE_UNAVAILABLE: 503,
      WARDEN_AUDIT_UNAVAILABLE: 503,
    });
  });

  it('uses WARDEN_ upper-case codes and only client or server error statuses', () => {
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
      assert.match(code, /^WARDEN_[A-Z_]+$/);
      assert.ok(entry.status >= 400 && entry.status < 600, code);
    }
  });

  it('is documented row for row in docs/errors.md', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const rows = [
      ...doc.matchAll(
        /^\|\s*<a id="([a-z_]+)"><\/a>`(WARDEN_[A-Z_]+)`\s*\|\s*(\d+)\s*\|\s*(.+?)\s*\|$/gm,
      ),
    ];
    const documented = new Map(
      rows.map((m) => [m[2], { status: Number(m[3]), title: m[4], anchor: m[1] }] as const),
    );
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
      assert.deepEqual(
        documented.get(code),
        { status: entry.status, title: entry.title, anchor: code.toLowerCase() },
        code,
      );
    }
    assert.equal(
      rows.length,
      Object.keys(ERROR_REGISTRY).length,
      'docs/errors.md lists codes the registry does not have',
    );
  });

  it('maps an error to the wire envelope with its registered status', () => {
    const error = new WardenError('WARDEN_IDEMPOTENCY_CONFLICT', 'key reused', {
      idempotency_key: 'k',
    });
    assert.equal(error.status, 409);
    assert.deepEqual(errorEnvelope(error), {
      error: {
        code: 'WARDEN_IDEMPOTENCY_CONFLICT',
        message: 'key reused',
        details: { idempotency_key: 'k' },
      },
    });
    const fallback = new WardenError('WARDEN_NOT_FOUND' satisfies ErrorCode);
    assert.equal(fallback.message, ERROR_REGISTRY.WARDEN_NOT_FOUND.title);
  });
});
