/**
 * Topics, globs and NATS subjects for the JetStream dispatcher: which topics can be subjects,
 * the subject filter a consumer uses for a set of globs, and the consumer's name.
 *
 * Pure functions only; the exact glob match stays with the dispatcher, since a filter is allowed
 * to let through more than its globs match (never less).
 */
import { createHash } from 'node:crypto';
import { globProblem } from '../../core/policy/glob.js';

/** Bumped whenever the glob → filter translation changes, so old consumers are not reused. */
const CONSUMER_SCHEME = 'v1';
const TOPIC_PATTERN = /^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/;
const GLOB_PATTERN = /^[A-Za-z0-9_.:*-]+$/;
const MAX_TOPIC_LENGTH = 256;

/**
 * Why a topic cannot be published, or null when it can. Topics must be valid NATS subjects:
 * the port's character set, and no empty segment (`a..b`, `.a`, `a.`).
 */
export function topicProblem(topic: string): string | null {
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH)
    return `a topic must have 1 to ${MAX_TOPIC_LENGTH} characters`;
  if (!TOPIC_PATTERN.test(topic))
    return 'a topic is dot-separated non-empty segments of A-Z a-z 0-9 _ : -';
  return null;
}

/** Why a glob cannot select topics here, or null when it can. */
export function topicGlobProblem(glob: string): string | null {
  const problem = globProblem(glob);
  if (problem !== null) return problem;
  if (glob.length > MAX_TOPIC_LENGTH || !GLOB_PATTERN.test(glob))
    return `a topic glob uses A-Z a-z 0-9 _ . : - and *, at most ${MAX_TOPIC_LENGTH} characters`;
  return null;
}

/** The NATS subject tokens covering every topic one glob matches. */
function filterTokens(glob: string): string[] {
  const tokens: string[] = [];
  for (const segment of glob.split('.')) {
    // `**` may span any number of segments, from anywhere in this one: only `>` covers that.
    if (segment.includes('**')) return [...tokens, '>'];
    // A `*` inside a segment (`ab*`) still stays within it; an empty segment matches no topic.
    tokens.push(segment.includes('*') || segment === '' ? '*' : segment);
  }
  return tokens;
}

/**
 * The narrowest single subject filter (below `prefix`) that every topic matched by any of the
 * globs also matches. Single, because servers before 2.10 take one filter per consumer.
 */
export function filterSubjectFor(prefix: string, globs: readonly string[]): string {
  const all = globs.map(filterTokens);
  const lengths = all.map((tokens) => tokens.length);
  const open = all.some((tokens) => tokens.at(-1) === '>') || new Set(lengths).size > 1;
  // Closed: all of one length, so merge position by position. Open: keep the positions before
  // the shortest filter's last one and end with `>`, which still covers that last one.
  const fixed = open ? Math.min(...lengths) - 1 : (lengths[0] ?? 0);
  const merged: string[] = [];
  for (let i = 0; i < fixed; i++) {
    const first = all[0]?.[i] ?? '*';
    merged.push(all.every((tokens) => tokens[i] === first) ? first : '*');
  }
  if (open) merged.push('>');
  return [prefix, ...merged].join('.');
}

/** The durable consumer's name for a glob set: stable across processes, whatever the order. */
export function consumerNameFor(globs: readonly string[]): string {
  const key = JSON.stringify([CONSUMER_SCHEME, [...new Set(globs)].sort()]);
  return `warden_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}
