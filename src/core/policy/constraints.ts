/**
 * Constraint sets (§6): the known keys and the merge that combines the constraints of every
 * matching rule into the tightest set.
 *
 * INVARIANT: merge is commutative, associative and never loosens: numbers take the minimum,
 * allow-lists intersect, deny-lists unite, `redact_output` is true if any rule says so.
 */
import type { Constraints } from '../model/decision.js';

export const NUMERIC_CONSTRAINTS = ['max_runtime_sec', 'max_retries', 'max_output_bytes'] as const;
export const ALLOW_LIST_CONSTRAINTS = ['allowed_paths', 'allowed_hosts'] as const;
export const DENY_LIST_CONSTRAINTS = ['denied_paths', 'denied_hosts'] as const;
export const CONSTRAINT_KEYS = [
  'max_runtime_sec',
  'max_retries',
  'allowed_paths',
  'denied_paths',
  'allowed_hosts',
  'denied_hosts',
  'max_output_bytes',
  'redact_output',
] as const;
export type ConstraintKey = (typeof CONSTRAINT_KEYS)[number];

type MutableConstraints = { -readonly [K in keyof Constraints]: Constraints[K] };

const EMPTY: Constraints = Object.freeze({});

function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}

/** The tightest combination of two constraint sets. */
export function mergeConstraints(a: Constraints, b: Constraints): Constraints {
  const out: MutableConstraints = {};
  for (const key of NUMERIC_CONSTRAINTS) {
    const x = a[key];
    const y = b[key];
    const value = x === undefined ? y : y === undefined ? x : Math.min(x, y);
    if (value !== undefined) out[key] = value;
  }
  for (const key of ALLOW_LIST_CONSTRAINTS) {
    const x = a[key];
    const y = b[key];
    if (x === undefined && y === undefined) continue;
    const ySet = new Set(y);
    out[key] =
      x === undefined
        ? sortedUnique(y ?? [])
        : y === undefined
          ? sortedUnique(x)
          : sortedUnique(x.filter((p) => ySet.has(p)));
  }
  for (const key of DENY_LIST_CONSTRAINTS) {
    const x = a[key];
    const y = b[key];
    if (x === undefined && y === undefined) continue;
    out[key] = sortedUnique([...(x ?? []), ...(y ?? [])]);
  }
  if (a.redact_output === true || b.redact_output === true) out.redact_output = true;
  return normalizeConstraints(out);
}

/** Merges any number of sets; the empty set is the identity. */
export function mergeAll(sets: readonly Constraints[]): Constraints {
  return sets.reduce<Constraints>((acc, set) => mergeConstraints(acc, set), EMPTY);
}

/** A copy with keys in canonical order and lists sorted, so equal sets serialise identically. */
export function normalizeConstraints(c: Constraints): Constraints {
  const out: MutableConstraints = {};
  for (const key of CONSTRAINT_KEYS) {
    const value = c[key];
    // `redact_output: false` imposes nothing, so it is dropped like an absent key.
    if (value === undefined || value === false) continue;
    (out as Record<string, unknown>)[key] = Array.isArray(value)
      ? sortedUnique(value as string[])
      : value;
  }
  return out;
}

export function isEmptyConstraints(c: Constraints): boolean {
  return Object.keys(c).length === 0;
}
