/**
 * Glob patterns for topics, tenants, agents, paths and hosts.
 *
 * `*` matches any run of characters that contains no separator; `**` matches any run at all.
 * Matching is a single left-to-right pass per pattern token (O(input × tokens)), never
 * backtracking, so no pattern can make a match slow.
 */

type Token =
  { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'star' | 'globstar' };

export interface Glob {
  readonly pattern: string;
  /** The pattern's fixed text before its first wildcard. */
  readonly literalPrefix: string;
  readonly hasWildcard: boolean;
  test(input: string): boolean;
}

/** Why a pattern is not a valid glob, or null when it is. */
export function globProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'a glob must not be empty';
  if (pattern.includes('***')) return 'a glob may use * or ** but not three or more stars in a row';
  return null;
}

/** Compiles a pattern. `separators` lists the characters a single `*` cannot cross. */
export function compileGlob(pattern: string, separators: string): Glob {
  const problem = globProblem(pattern);
  if (problem !== null) throw new Error(`${problem}: "${pattern}"`);
  const tokens = tokenize(pattern);
  const first = tokens[0];
  const literalPrefix = first?.kind === 'literal' ? first.text : '';
  const hasWildcard = tokens.some((token) => token.kind !== 'literal');
  return {
    pattern,
    literalPrefix,
    hasWildcard,
    test: buildMatcher(pattern, tokens, separators),
  };
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '*') {
      literal += pattern.charAt(i);
      continue;
    }
    if (literal !== '') tokens.push({ kind: 'literal', text: literal });
    literal = '';
    if (pattern[i + 1] === '*') {
      tokens.push({ kind: 'globstar' });
      i++;
    } else {
      tokens.push({ kind: 'star' });
    }
  }
  if (literal !== '') tokens.push({ kind: 'literal', text: literal });
  return tokens;
}

function hasSeparator(text: string, from: number, separators: string): boolean {
  for (let i = from; i < text.length; i++) {
    if (separators.includes(text.charAt(i))) return true;
  }
  return false;
}

function buildMatcher(
  pattern: string,
  tokens: readonly Token[],
  separators: string,
): (input: string) => boolean {
  const [a, b, c] = tokens;
  // Fast paths for the shapes policies use most: exact, `prefix.*`, `prefix.**`, `**`.
  if (tokens.length === 0) return (input) => input === '';
  if (tokens.length === 1 && a?.kind === 'literal') return (input) => input === pattern;
  if (tokens.length === 1 && a?.kind === 'globstar') return () => true;
  if (tokens.length === 1 && a?.kind === 'star')
    return (input) => !hasSeparator(input, 0, separators);
  if (tokens.length === 2 && a?.kind === 'literal' && b?.kind === 'globstar') {
    const prefix = a.text;
    return (input) => input.startsWith(prefix);
  }
  if (tokens.length === 2 && a?.kind === 'literal' && b?.kind === 'star') {
    const prefix = a.text;
    return (input) => input.startsWith(prefix) && !hasSeparator(input, prefix.length, separators);
  }
  if (tokens.length === 3 && a?.kind === 'literal' && b?.kind === 'star' && c?.kind === 'literal') {
    const prefix = a.text;
    const suffix = c.text;
    return (input) =>
      input.length >= prefix.length + suffix.length &&
      input.startsWith(prefix) &&
      input.endsWith(suffix) &&
      !hasSeparator(input.slice(prefix.length, input.length - suffix.length), 0, separators);
  }
  return (input) => matchTokens(tokens, input, separators);
}

/**
 * General case: tracks the set of input positions reachable after each token.
 * INVARIANT: each token is processed in one pass over the input, so cost is linear per token.
 */
function matchTokens(tokens: readonly Token[], input: string, separators: string): boolean {
  const n = input.length;
  let reach = new Uint8Array(n + 1);
  reach[0] = 1;
  for (const token of tokens) {
    const next = new Uint8Array(n + 1);
    let any = false;
    if (token.kind === 'literal') {
      const len = token.text.length;
      for (let p = 0; p + len <= n; p++) {
        if (reach[p] === 1 && input.startsWith(token.text, p)) {
          next[p + len] = 1;
          any = true;
        }
      }
    } else if (token.kind === 'globstar') {
      let active = false;
      for (let p = 0; p <= n; p++) {
        if (reach[p] === 1) active = true;
        if (active) {
          next[p] = 1;
          any = true;
        }
      }
    } else {
      let active = false;
      for (let p = 0; p <= n; p++) {
        if (reach[p] === 1) active = true;
        if (active) {
          next[p] = 1;
          any = true;
        }
        if (p < n && separators.includes(input.charAt(p))) active = false;
      }
    }
    if (!any) return false;
    reach = next;
  }
  return reach[n] === 1;
}
