/**
 * Built-in detectors for personal data, secrets and prompt-injection phrasings.
 *
 * Every pattern runs on RE2 semantics (re2js), so scanning is linear in the text whatever it
 * contains. Checksummed formats (cards, IBANs) are confirmed by their checksum to keep
 * near-misses out. Findings carry positions, never a copy of the sensitive text.
 *
 * Each detector also states what any match must contain (a literal hint, a number of digits).
 * Those prefilters are plain native searches that skip the regex for text that cannot match; they
 * only ever skip, so they change speed, never results. INVARIANT: every match of a detector's
 * pattern contains one of its `hints` (compared on folded text) and at least `minDigits` digits.
 */
import { RE2JS } from 're2js';

export type DetectorCategory = 'pii' | 'secrets' | 'prompt_injection';

export interface Detector {
  readonly kind: string;
  readonly category: DetectorCategory;
  readonly pattern: RE2JS;
  /** Extra confirmation of a candidate match, e.g. a checksum. */
  readonly confirm?: (match: string) => boolean;
  /** Lower-case literals one of which every match contains (see `fold`); empty: no hint. */
  readonly hints: readonly string[];
  /** How many ASCII digits every match contains at least. */
  readonly minDigits: number;
}

export interface Finding {
  readonly kind: string;
  readonly category: DetectorCategory;
  readonly start: number;
  readonly end: number;
}

function luhn(candidate: string): boolean {
  const digits = candidate.replace(/[^0-9]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanChecksum(candidate: string): boolean {
  const iban = candidate.replace(/ /g, '');
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

function ssnValid(candidate: string): boolean {
  const [area = '', group = '', serial = ''] = candidate.split('-');
  return (
    area !== '000' && area !== '666' && !area.startsWith('9') && group !== '00' && serial !== '0000'
  );
}

const CASE_INSENSITIVE = RE2JS.CASE_INSENSITIVE;

interface DetectorOptions {
  readonly flags?: number;
  readonly confirm?: (match: string) => boolean;
  readonly hints?: readonly string[];
  readonly minDigits?: number;
}

function detector(
  kind: string,
  category: DetectorCategory,
  pattern: string,
  options: DetectorOptions = {},
): Detector {
  const base = {
    kind,
    category,
    pattern: RE2JS.compile(pattern, options.flags ?? 0),
    hints: options.hints ?? [],
    minDigits: options.minDigits ?? 0,
  };
  return options.confirm === undefined ? base : { ...base, confirm: options.confirm };
}

export const DETECTORS: readonly Detector[] = [
  detector(
    'email',
    'pii',
    String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`,
    { hints: ['@'] },
  ),
  detector(
    'phone',
    'pii',
    String.raw`(?:\+[1-9][0-9]{7,14}\b|\(?\b[2-9][0-9]{2}\)?[-. ][0-9]{3}[-. ][0-9]{4}\b)`,
    { minDigits: 8 },
  ),
  detector('credit_card', 'pii', String.raw`\b[0-9](?:[ -]?[0-9]){12,18}\b`, {
    confirm: luhn,
    minDigits: 13,
  }),
  // Compact, or in groups of four: a greedy "any run of letters, digits and spaces" would swallow
  // the upper-case word after an IBAN and then fail the checksum.
  detector(
    'iban',
    'pii',
    String.raw`\b[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b`,
    { confirm: ibanChecksum, minDigits: 2 },
  ),
  detector('us_ssn', 'pii', String.raw`\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`, {
    confirm: ssnValid,
    hints: ['-'],
    minDigits: 9,
  }),
  detector('aws_access_key', 'secrets', String.raw`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`, {
    hints: ['akia', 'asia'],
  }),
  detector(
    'aws_secret_key',
    'secrets',
    String.raw`aws_secret_access_key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}`,
    { flags: CASE_INSENSITIVE, hints: ['aws_secret_access_key'] },
  ),
  detector('gcp_api_key', 'secrets', String.raw`\bAIza[0-9A-Za-z_-]{35}`, { hints: ['aiza'] }),
  detector(
    'github_token',
    'secrets',
    String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`,
    { hints: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'] },
  ),
  detector(
    'slack_token',
    'secrets',
    String.raw`\b(?:xox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+)`,
    { hints: ['xox', 'hooks.slack.com'] },
  ),
  detector('openai_key', 'secrets', String.raw`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}`, {
    hints: ['sk-'],
  }),
  detector('private_key', 'secrets', String.raw`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`, {
    hints: ['private key-----'],
  }),
  detector(
    'jwt',
    'secrets',
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
    { hints: ['eyj'] },
  ),
  detector(
    'ignore_instructions',
    'prompt_injection',
    String.raw`\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|rules|directions|context)`,
    { flags: CASE_INSENSITIVE, hints: ['ignore', 'disregard', 'forget', 'override'] },
  ),
  detector(
    'role_override',
    'prompt_injection',
    String.raw`\b(?:you\s+are\s+now\s+(?:in\s+)?(?:developer\s+mode|dan|jailbroken|unrestricted)|act\s+as\s+(?:an?\s+)?(?:unfiltered|unrestricted|jailbroken))`,
    {
      flags: CASE_INSENSITIVE,
      hints: ['developer', 'dan', 'jailbroken', 'unrestricted', 'unfiltered'],
    },
  ),
  detector(
    'prompt_exfiltration',
    'prompt_injection',
    String.raw`\b(?:reveal|print|show|repeat|output)\s+(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)`,
    { flags: CASE_INSENSITIVE, hints: ['prompt', 'instructions'] },
  ),
  detector(
    'tool_injection',
    'prompt_injection',
    String.raw`(?:<\s*/?\s*(?:system|im_start|im_end)\s*>|\bnew\s+instructions\s*:|\bIMPORTANT:\s*(?:ignore|do\s+not\s+tell))`,
    { flags: CASE_INSENSITIVE, hints: ['<', 'instructions', 'important:'] },
  ),
];

/**
 * Lower-cases `text` for the hint prefilter, so that a hint is found wherever a case-insensitive
 * pattern could match. RE2 folds U+017F (long s) to `s`, which `toLowerCase` keeps, so it is
 * mapped too (U+212A, the Kelvin sign, already lower-cases to `k`). The result may differ in
 * length from `text`; it is only ever searched, never used for positions.
 */
function fold(text: string): string {
  return text.toLowerCase().replaceAll('\u017f', 's');
}

function countDigits(text: string, atLeast: number): number {
  let digits = 0;
  for (let i = 0; i < text.length && digits < atLeast; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57) digits++;
  }
  return digits;
}

/** The text being scanned, with its prefilter views computed once and only when asked for. */
class ScanInput {
  private folded: string | null = null;
  private digits = -1;

  constructor(readonly text: string) {}

  /** False only when `d` cannot match anywhere in the text. */
  mayMatch(d: Detector): boolean {
    if (d.minDigits > 0) {
      // Counting stops at the largest threshold any detector uses.
      if (this.digits < 0) this.digits = countDigits(this.text, 13);
      if (this.digits < d.minDigits) return false;
    }
    if (d.hints.length === 0) return true;
    this.folded ??= fold(this.text);
    for (const hint of d.hints) if (this.folded.includes(hint)) return true;
    return false;
  }
}

/**
 * Calls `found` for every confirmed match of `d` in order. A candidate that fails confirmation is
 * retried one character further on, so a short number just before a card number (`12 4111 …`)
 * cannot hide it; candidates are short, so this stays linear.
 */
function eachMatch(d: Detector, text: string, found: (start: number, end: number) => void): void {
  const matcher = d.pattern.matcher(text);
  let more = matcher.find();
  while (more) {
    const start = matcher.start();
    const end = matcher.end();
    if (d.confirm === undefined || d.confirm(text.slice(start, end))) {
      found(start, end);
      more = matcher.find();
    } else {
      more = start + 1 < text.length && matcher.find(start + 1);
    }
  }
}

/** Every confirmed finding of the given categories in `text`, in order of position. */
export function scanText(text: string, categories: readonly DetectorCategory[]): Finding[] {
  const findings: Finding[] = [];
  const input = new ScanInput(text);
  for (const d of DETECTORS) {
    if (!categories.includes(d.category) || !input.mayMatch(d)) continue;
    eachMatch(d, text, (start, end) => {
      findings.push({ kind: d.kind, category: d.category, start, end });
    });
  }
  return findings.sort((a, b) => a.start - b.start || b.end - a.end);
}

/** True when `text` holds at least one confirmed finding of the category. */
export function containsCategory(text: string, category: DetectorCategory): boolean {
  const input = new ScanInput(text);
  for (const d of DETECTORS) {
    if (d.category !== category || !input.mayMatch(d)) continue;
    const matcher = d.pattern.matcher(text);
    let more = matcher.find();
    while (more) {
      const start = matcher.start();
      const end = matcher.end();
      if (d.confirm === undefined || d.confirm(text.slice(start, end))) return true;
      more = start + 1 < text.length && matcher.find(start + 1);
    }
  }
  return false;
}
