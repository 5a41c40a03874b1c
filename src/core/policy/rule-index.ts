/**
 * Candidate lookup, so evaluation does not test every rule.
 *
 * Rules whose topic globs start with literal dot-segments hang in a trie of those segments;
 * each trie node holds, precomputed, every rule reachable on the path to it plus the rules that
 * must always be checked. Rules without a literal topic prefix but with required risk tags are
 * indexed by tag. Lookup walks the request topic's segments once and merges at most a few lists.
 *
 * INVARIANT: every rule that can match a request is among its candidates (the index may
 * over-approximate, never under-approximate); candidates are returned in file order.
 */
import type { MatchSpec } from './spec.js';

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** Rules whose longest literal prefix ends exactly here. */
  readonly own: number[];
  /** Precomputed: own rules of this node and its ancestors, plus always-rules; sorted. */
  cumulative: readonly number[];
}

function newNode(): TrieNode {
  return { children: new Map(), own: [], cumulative: [] };
}

/** The whole dot-segments of a topic glob before its first wildcard. */
export function literalSegments(pattern: string): string[] {
  const star = pattern.indexOf('*');
  const fixed = star === -1 ? pattern : pattern.slice(0, star);
  const segments = fixed.split('.');
  // The last piece is either a whole segment (no star in the pattern) or a partial one.
  if (star !== -1) segments.pop();
  return segments;
}

export class RuleIndex {
  private readonly root = newNode();
  private readonly byTag = new Map<string, number[]>();

  constructor(matches: readonly MatchSpec[]) {
    const always: number[] = [];
    matches.forEach((match, i) => {
      const topics = match.topics;
      if (topics !== undefined && topics.every((t) => literalSegments(t).length > 0)) {
        for (const topic of topics) {
          let node = this.root;
          for (const segment of literalSegments(topic)) {
            let child = node.children.get(segment);
            if (child === undefined) {
              child = newNode();
              node.children.set(segment, child);
            }
            node = child;
          }
          // Indices arrive in ascending order, so a repeat can only be the last entry.
          if (node.own.at(-1) !== i) node.own.push(i);
        }
        return;
      }
      // Every matching request must carry one of these tags, so index under each of them.
      const tags =
        match.risk_tags ??
        (match.risk_tags_all?.[0] === undefined ? undefined : [match.risk_tags_all[0]]);
      if (tags !== undefined) {
        for (const tag of tags) {
          const list = this.byTag.get(tag) ?? [];
          list.push(i);
          this.byTag.set(tag, list);
        }
        return;
      }
      always.push(i);
    });
    this.fill(this.root, always);
  }

  private fill(node: TrieNode, inherited: readonly number[]): void {
    node.cumulative = sortedUnion(inherited, node.own);
    for (const child of node.children.values()) this.fill(child, node.cumulative);
  }

  /** Indices of the rules that may match, ascending. */
  candidates(topic: string, riskTags: readonly string[]): readonly number[] {
    let node = this.root;
    let start = 0;
    while (start <= topic.length) {
      let end = topic.indexOf('.', start);
      if (end === -1) end = topic.length;
      const child = node.children.get(topic.slice(start, end));
      if (child === undefined) break;
      node = child;
      start = end + 1;
    }
    let result = node.cumulative;
    for (const tag of riskTags) {
      const tagged = this.byTag.get(tag);
      if (tagged !== undefined) result = sortedUnion(result, tagged);
    }
    return result;
  }
}

/** Union of two ascending, duplicate-free lists, in one linear pass. */
function sortedUnion(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i] ?? Infinity;
    const y = b[j] ?? Infinity;
    if (x <= y) {
      out.push(x);
      i++;
      if (x === y) j++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}
