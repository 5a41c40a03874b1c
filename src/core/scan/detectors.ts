/**
 * Built-in detectors for personal data, secrets and prompt-injection phrasings.
 *
 * Every pattern runs on RE2 semantics (re2js), so scanning is linear in the text whatever it
 * contains. Checksummed formats (cards, IBANs) are confirmed by their checksum to keep
 * near-misses out. Findings carry positions, never a copy of the sensitive text.
 */
import { RE2JS } from 're2js';

export type DetectorCategory = 'pii' | 'secrets' | 'prompt_injection';

export interface Detector {
  readonly kind: string;
  readonly category: DetectorCategory;
  readonly pattern: RE2JS;
  /** Extra confirmation of a candidate match, e.g. a checksum. */
  readonly confirm?: (match: string) => boolean;
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

function detector(
  kind: string,
  category: DetectorCategory,
  pattern: string,
  options: { flags?: number; confirm?: (match: string) => boolean } = {},
): Detector {
  const compiled = RE2JS.compile(pattern, options.flags ?? 0);
  return options.confirm === undefined
    ? { kind, category, pattern: compiled }
    : { kind, category, pattern: compiled, confirm: options.confirm };
}

export const DETECTORS: readonly Detector[] = [
  detector(
    'email',
    'pii',
    String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`,
  ),
  detector(
    'phone',
    'pii',
    String.raw`(?:\+[1-9][0-9]{7,14}\b|\(?\b[2-9][0-9]{2}\)?[-. ][0-9]{3}[-. ][0-9]{4}\b)`,
  ),
  detector('credit_card', 'pii', String.raw`\b[0-9](?:[ -]?[0-9]){12,18}\b`, { confirm: luhn }),
  detector('iban', 'pii', String.raw`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b`, {
    confirm: ibanChecksum,
  }),
  detector('us_ssn', 'pii', String.raw`\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`, { confirm: ssnValid }),
  detector('aws_access_key', 'secrets', String.raw`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`),
  detector(
    'aws_secret_key',
    'secrets',
    String.raw`aws_secret_access_key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}`,
    { flags: CASE_INSENSITIVE },
  ),
  detector('gcp_api_key', 'secrets', String.raw`\bAIza[0-9A-Za-z_-]{35}`),
  detector(
    'github_token',
    'secrets',
    String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`,
  ),
  detector(
    'slack_token',
    'secrets',
    String.raw`\b(?:xox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+)`,
  ),
  detector('openai_key', 'secrets', String.raw`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}`),
  detector('private_key', 'secrets', String.raw`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----`),
  detector(
    'jwt',
    'secrets',
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
  ),
  detector(
    'ignore_instructions',
    'prompt_injection',
    String.raw`\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|rules|directions|context)`,
    { flags: CASE_INSENSITIVE },
  ),
  detector(
    'role_override',
    'prompt_injection',
    String.raw`\b(?:you\s+are\s+now\s+(?:in\s+)?(?:developer\s+mode|dan|jailbroken|unrestricted)|act\s+as\s+(?:an?\s+)?(?:unfiltered|unrestricted|jailbroken))`,
    { flags: CASE_INSENSITIVE },
  ),
  detector(
    'prompt_exfiltration',
    'prompt_injection',
    String.raw`\b(?:reveal|print|show|repeat|output)\s+(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)`,
    { flags: CASE_INSENSITIVE },
  ),
  detector(
    'tool_injection',
    'prompt_injection',
    String.raw`(?:<\s*/?\s*(?:system|im_start|im_end)\s*>|\bnew\s+instructions\s*:|\bIMPORTANT:\s*(?:ignore|do\s+not\s+tell))`,
    { flags: CASE_INSENSITIVE },
  ),
];

/** Every confirmed finding of the given categories in `text`, in order of position. */
export function scanText(text: string, categories: readonly DetectorCategory[]): Finding[] {
  const findings: Finding[] = [];
  for (const d of DETECTORS) {
    if (!categories.includes(d.category)) continue;
    const matcher = d.pattern.matcher(text);
    while (matcher.find()) {
      const start = matcher.start();
      const end = matcher.end();
      if (d.confirm === undefined || d.confirm(text.slice(start, end))) {
        findings.push({ kind: d.kind, category: d.category, start, end });
      }
    }
  }
  return findings.sort((a, b) => a.start - b.start || b.end - a.end);
}

/** True when `text` holds at least one confirmed finding of the category. */
export function containsCategory(text: string, category: DetectorCategory): boolean {
  for (const d of DETECTORS) {
    if (d.category !== category) continue;
    const matcher = d.pattern.matcher(text);
    while (matcher.find()) {
      if (d.confirm === undefined || d.confirm(text.slice(matcher.start(), matcher.end())))
        return true;
    }
  }
  return false;
}
