/**
 * `when:` conditions: CEL expressions compiled when the policy loads.
 *
 * Variables: `job` (the request), `payload` (also at top level), `agent` (profile), `principal`,
 * `now` (timestamp). Functions: contains_pii, contains_secret, business_hours, glob, re_matches.
 * CEL's own `matches()` runs on a backtracking engine, so it is refused at load time in favour
 * of `re_matches()`, which runs on RE2 (linear time).
 */
import { Environment } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { containsCategory } from '../scan/detectors.js';
import { compileGlob } from './glob.js';
import type { Glob } from './glob.js';

export type ConditionContext = Readonly<Record<string, unknown>>;
export type Condition = (context: ConditionContext) => unknown;

interface AstNode {
  readonly op: string;
  readonly args: unknown;
}

const TIMESTAMP = 'google.protobuf.Timestamp';
/**
 * Calls whose cost grows with the request beyond one pass: comprehensions (nested, they
 * multiply) and scanners over arbitrary text.
 */
const UNBOUNDED_CALLS = [
  'all',
  'exists',
  'exists_one',
  'map',
  'filter',
  're_matches',
  'contains_pii',
  'contains_secret',
] as const;
const CACHE_LIMIT = 1024;
const WEEKDAYS: Readonly<Record<string, number>> = {
  Mon: 1,
  Tue: 2,
  Wed: 3,
  Thu: 4,
  Fri: 5,
  Sat: 6,
  Sun: 7,
};

/** A per-policy cache: bounded, because patterns may come from request data. */
function memo<T>(build: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = build(key);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(key, value);
    }
    return value;
  };
}

/** Compiles conditions for one policy. Each compiler owns its caches; nothing is global. */
export class ConditionCompiler {
  private readonly env: Environment;

  constructor() {
    // Path semantics: `*` stays within one `/` segment, `**` crosses them.
    const globOf = memo<Glob>((pattern) => compileGlob(pattern, '/'));
    const regexOf = memo<RE2JS>((pattern) => RE2JS.compile(pattern));
    const hourFormat = memo<Intl.DateTimeFormat>(
      (tz) =>
        new Intl.DateTimeFormat('en-US', {
          timeZone: tz,
          hour: 'numeric',
          hourCycle: 'h23',
          weekday: 'short',
        }),
    );
    this.env = new Environment({
      homogeneousAggregateLiterals: false,
      limits: { maxAstNodes: 2000, maxDepth: 64 },
    })
      .registerVariable('job', 'map')
      .registerVariable('payload', 'dyn')
      .registerVariable('agent', 'map')
      .registerVariable('principal', 'string')
      .registerVariable('now', TIMESTAMP)
      .registerFunction('contains_pii(string): bool', (text: string) =>
        containsCategory(text, 'pii'),
      )
      .registerFunction('contains_secret(string): bool', (text: string) =>
        containsCategory(text, 'secrets'),
      )
      .registerFunction('glob(string, string): bool', (text: string, pattern: string) =>
        globOf(pattern).test(text),
      )
      .registerFunction('re_matches(string, string): bool', (text: string, pattern: string) =>
        regexOf(pattern).matcher(text).find(),
      )
      .registerFunction(
        `business_hours(${TIMESTAMP}, string, int, int): bool`,
        (now: Date, tz: string, start: bigint, end: bigint) => {
          const parts = hourFormat(tz).formatToParts(now);
          const hour = Number(parts.find((p) => p.type === 'hour')?.value);
          const day = WEEKDAYS[parts.find((p) => p.type === 'weekday')?.value ?? ''] ?? 0;
          return day >= 1 && day <= 5 && hour >= Number(start) && hour < Number(end);
        },
      );
  }

  /** A message saying why `expression` cannot be used, or null. */
  problem(expression: string): string | null {
    try {
      const parsed = this.env.parse(expression);
      const banned = findCall(parsed.ast, 'matches');
      if (banned)
        return 'matches() is not allowed (backtracking regex); use re_matches(text, pattern)';
      const literalProblem = checkRegexLiterals(parsed.ast);
      if (literalProblem !== null) return literalProblem;
      const checked = this.env.check(expression);
      if (!checked.valid) return firstLine(checked.error?.message ?? 'invalid expression');
      if (checked.type !== 'bool' && checked.type !== 'dyn')
        return `a condition must be a bool, this one is ${checked.type}`;
      return null;
    } catch (error) {
      return firstLine(error instanceof Error ? error.message : String(error));
    }
  }

  /** Whether an expression compiled so far can cost more than linear in the request. */
  compiledUnbounded = false;

  /** Compiles an expression already accepted by `problem`. */
  compile(expression: string): Condition {
    const parsed = this.env.parse(expression);
    if (!this.compiledUnbounded && UNBOUNDED_CALLS.some((name) => findCall(parsed.ast, name))) {
      this.compiledUnbounded = true;
    }
    return parsed;
  }
}

/** A message when `pattern` is not a valid RE2 regex, else null. */
export function regexProblem(pattern: string): string | null {
  try {
    RE2JS.compile(pattern);
    return null;
  } catch (error) {
    return firstLine(error instanceof Error ? error.message : String(error));
  }
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}

function children(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null && 'op' in value)
      out.push(value as AstNode);
  };
  visit(node.args);
  return out;
}

function callName(node: AstNode): string | null {
  if (
    (node.op === 'call' || node.op === 'rcall') &&
    Array.isArray(node.args) &&
    typeof node.args[0] === 'string'
  ) {
    return node.args[0];
  }
  return null;
}

function findCall(node: AstNode, name: string): boolean {
  return callName(node) === name || children(node).some((child) => findCall(child, name));
}

/** Literal patterns given to re_matches are compiled now, so a typo fails the load, not a request. */
function checkRegexLiterals(node: AstNode): string | null {
  if (callName(node) === 're_matches' && Array.isArray(node.args)) {
    const pattern = (node.args[1] as AstNode[] | undefined)?.[1];
    if (pattern?.op === 'value' && typeof pattern.args === 'string') {
      const problem = regexProblem(pattern.args);
      if (problem !== null) return `re_matches pattern does not compile: ${problem}`;
    }
  }
  for (const child of children(node)) {
    const problem = checkRegexLiterals(child);
    if (problem !== null) return problem;
  }
  return null;
}
