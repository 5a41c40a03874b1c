/**
 * Path and host constraints (§6), checked by the worker side against a job's arguments before it
 * runs and by handlers before each access. Pure: no I/O, no clock; the base directory for
 * relative paths is an argument. Used by the worker SDK and the `warden worker` command.
 *
 * Semantics: a denied_* glob that matches refuses; otherwise, when an allowed_* list is present,
 * the value must match one of its globs. Paths are normalised (`.` and `..` resolved, repeated
 * slashes collapsed) before matching, so `/srv/work/../../etc/passwd` is seen as `/etc/passwd`.
 * Hosts are compared lowercased without a trailing dot. Path globs use `/` as the separator a
 * single `*` does not cross, host globs use `.`.
 *
 * This is cooperative enforcement: it sees the arguments the job carries and the accesses a
 * handler routes through the helpers, not what a process does on its own.
 */
import type { Constraints } from '../core/model/decision.js';
import { compileGlob } from '../core/policy/glob.js';

/** A job's arguments, or an access a handler attempted, break the job's constraints. */
export class ConstraintViolation extends Error {
  constructor(
    readonly constraint: 'allowed_paths' | 'denied_paths' | 'allowed_hosts' | 'denied_hosts',
    readonly value: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConstraintViolation';
  }
}

/** How deep `findArgumentViolation` walks a payload; deeper values are not inspected. */
const MAX_DEPTH = 32;

/** `path` made absolute against `base` and normalised; no file system access. */
export function normalizePath(path: string, base = '/'): string {
  const absolute = path.startsWith('/') ? path : `${base.replace(/\/+$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** The violation for one path, or null when the constraints allow it. */
export function pathViolation(
  path: string,
  constraints: Constraints,
  base = '/',
): ConstraintViolation | null {
  const normalized = normalizePath(path, base);
  const shown = normalized === path ? `"${path}"` : `"${path}" (${normalized})`;
  if (matchesAny(constraints.denied_paths, normalized, '/')) {
    return new ConstraintViolation(
      'denied_paths',
      path,
      `path ${shown} is in denied_paths (${list(constraints.denied_paths)})`,
    );
  }
  const allowed = constraints.allowed_paths;
  if (allowed !== undefined && !matchesAny(allowed, normalized, '/')) {
    return new ConstraintViolation(
      'allowed_paths',
      path,
      `path ${shown} is outside allowed_paths (${list(allowed)})`,
    );
  }
  return null;
}

/**
 * The host of an http(s) URL, or `urlOrHost` itself when it is a bare host name, lowercased and
 * without a trailing dot; IPv6 brackets are dropped.
 */
export function hostOf(urlOrHost: string): string {
  const url = parseHttpUrl(urlOrHost);
  const host = url === null ? urlOrHost : url.hostname;
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** The violation for one URL or host, or null when the constraints allow it. */
export function hostViolation(
  urlOrHost: string,
  constraints: Constraints,
): ConstraintViolation | null {
  const host = hostOf(urlOrHost);
  if (matchesAny(constraints.denied_hosts, host, '.')) {
    return new ConstraintViolation(
      'denied_hosts',
      urlOrHost,
      `host "${host}" is in denied_hosts (${list(constraints.denied_hosts)})`,
    );
  }
  const allowed = constraints.allowed_hosts;
  if (allowed !== undefined && !matchesAny(allowed, host, '.')) {
    return new ConstraintViolation(
      'allowed_hosts',
      urlOrHost,
      `host "${host}" is outside allowed_hosts (${list(allowed)})`,
    );
  }
  return null;
}

/**
 * The first violation among a payload's string values, or null. A string is checked as a path
 * when it starts with `/`, `./` or `../`, or is a `file:` URL, and as a host when it parses as an
 * http(s) URL. Other strings (and object keys) are not inspected.
 */
export function findArgumentViolation(
  payload: unknown,
  constraints: Constraints,
  base = '/',
): ConstraintViolation | null {
  if (!constrainsArguments(constraints)) return null;
  const visit = (value: unknown, depth: number): ConstraintViolation | null => {
    if (typeof value === 'string') return stringViolation(value, constraints, base);
    if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return null;
    for (const item of Array.isArray(value) ? value : Object.values(value)) {
      const found = visit(item, depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  return visit(payload, 0);
}

function constrainsArguments(constraints: Constraints): boolean {
  return (
    constraints.allowed_paths !== undefined ||
    constraints.denied_paths !== undefined ||
    constraints.allowed_hosts !== undefined ||
    constraints.denied_hosts !== undefined
  );
}

function stringViolation(
  value: string,
  constraints: Constraints,
  base: string,
): ConstraintViolation | null {
  if (value.startsWith('/') || value.startsWith('./') || value.startsWith('../'))
    return pathViolation(value, constraints, base);
  if (/^file:/i.test(value)) {
    const path = fileUrlPath(value);
    return path === null ? null : pathViolation(path, constraints, base);
  }
  if (parseHttpUrl(value) !== null) return hostViolation(value, constraints);
  return null;
}

function parseHttpUrl(text: string): URL | null {
  if (!/^https?:\/\//i.test(text)) return null;
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function fileUrlPath(text: string): string | null {
  try {
    return decodeURIComponent(new URL(text).pathname);
  } catch {
    return null;
  }
}

function matchesAny(globs: readonly string[] | undefined, value: string, sep: string): boolean {
  return (globs ?? []).some((glob) => compileGlob(glob, sep).test(value));
}

function list(globs: readonly string[] | undefined): string {
  return (globs ?? []).join(', ');
}
