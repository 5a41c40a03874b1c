/**
 * Scanning a job's JSON output (SPEC §8): walk the value once, scan its text leaves with the
 * built-in detectors or a user regex, report findings by JSON path, and redact them.
 *
 * Owns the walk, the paths and the redaction format. It does not decide which scanners run or
 * what a finding means for the job; the policy's output rules do (core/policy/output-rules.ts).
 *
 * INVARIANT: the work is linear in the size of the output. The value is walked once, without
 * recursion (a deeply nested document cannot exhaust the stack); each scanner reads each leaf
 * once and its result is cached; paths are built only for leaves with findings, each container's
 * prefix once; redacted strings are assembled from slices with one `join`; and only containers
 * on the way to a redacted leaf are copied. The input is never mutated.
 */
import { RE2JS } from 're2js';
import { scanText } from './detectors.js';
import type { DetectorCategory } from './detectors.js';

/** Which kind of scanner produced a finding. */
export type OutputScannerKind = DetectorCategory | 'regex';

/** A scanner ready to run: a built-in category, or a compiled user regex named by its `kind`. */
export type OutputScanner =
  | { readonly scanner: DetectorCategory }
  | { readonly scanner: 'regex'; readonly name: string; readonly pattern: RE2JS };

/**
 * One finding in an output: where it is, never what it is. `start` and `end` are UTF-16 offsets
 * in the string at `path` (for a number, in its decimal text).
 */
export interface OutputFinding {
  readonly rule_id: string;
  readonly scanner: OutputScannerKind;
  readonly kind: string;
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

export function builtinScanner(category: DetectorCategory): OutputScanner {
  return { scanner: category };
}

/** Compiles a custom scanner; the pattern was validated as RE2 when the policy loaded. */
export function regexScanner(regex: string, name: string): OutputScanner {
  return { scanner: 'regex', name, pattern: RE2JS.compile(regex) };
}

/** `[REDACTED:<kind>]`, the text that replaces a redacted finding. */
export function redactionMarker(kind: string): string {
  return `[REDACTED:${kind}]`;
}

type Key = string | number;
type JsonContainer = Record<string, unknown> | unknown[];

/** An object or array in the walked value, with a way back to the root. */
interface Container {
  readonly value: JsonContainer;
  readonly parent: Container | null;
  readonly key: Key;
  path: string | null;
}

/** A string (or a number, as its decimal text) in the walked value. */
interface Leaf {
  readonly text: string;
  readonly parent: Container | null;
  readonly key: Key;
}

/** A finding before it is attributed to a rule. */
interface Hit {
  readonly leaf: number;
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

const ROOT_PATH = '$';

function isIdentifier(key: string): boolean {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    const digit = c >= 48 && c <= 57;
    if (!(letter || (digit && i > 0))) return false;
  }
  return true;
}

function segment(key: Key): string {
  if (typeof key === 'number') return `[${key}]`;
  return isIdentifier(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** The decimal text a number leaf is scanned as; null for values that hold no text. */
function leafText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'bigint') return value.toString();
  return null;
}

function isContainer(value: unknown): value is JsonContainer {
  return typeof value === 'object' && value !== null;
}

/** Sets an own property, so that a key such as `__proto__` stays plain data. */
function setChild(target: JsonContainer, key: Key, value: unknown): void {
  if (Array.isArray(target) && typeof key === 'number') target[key] = value;
  else
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
}

function shallowCopy(value: JsonContainer): JsonContainer {
  return Array.isArray(value) ? value.slice() : { ...value };
}

/** Replaces every range with its marker; overlapping ranges become one, named by the first. */
function redactText(text: string, hits: Hit[]): string {
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const pieces: string[] = [];
  let written = 0;
  let i = 0;
  while (i < hits.length) {
    const first = hits[i];
    if (first === undefined) break;
    let end = first.end;
    i++;
    for (let next = hits[i]; next !== undefined && next.start < end; next = hits[++i]) {
      if (next.end > end) end = next.end;
    }
    pieces.push(text.slice(written, first.start), redactionMarker(first.kind));
    written = end;
  }
  pieces.push(text.slice(written));
  return pieces.join('');
}

/**
 * An output value prepared for scanning: walked once, then scanned by any number of scanners
 * (each at most once) and redacted from findings it produced.
 */
export class OutputDocument {
  private readonly leaves: Leaf[] = [];
  /** The top-level object or array; null when the value is a single leaf or holds no text. */
  private root: Container | null = null;
  private readonly scans = new Map<OutputScanner | DetectorCategory, readonly Hit[]>();
  /** Which leaf each finding handed out by `findings` belongs to. */
  private readonly located = new WeakMap<OutputFinding, number>();

  private constructor(readonly value: unknown) {}

  /** Walks `value` (objects, arrays, strings, numbers) in document order. */
  static of(value: unknown): OutputDocument {
    const doc = new OutputDocument(value);
    const stack: { value: unknown; parent: Container | null; key: Key }[] = [
      { value, parent: null, key: ROOT_PATH },
    ];
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      const text = leafText(item.value);
      if (text !== null) {
        doc.leaves.push({ text, parent: item.parent, key: item.key });
        continue;
      }
      if (!isContainer(item.value)) continue;
      const node: Container = {
        value: item.value,
        parent: item.parent,
        key: item.key,
        path: item.parent === null ? ROOT_PATH : null,
      };
      if (item.parent === null) doc.root = node;
      // Children go on the stack last-first, so they come off it in document order.
      if (Array.isArray(node.value)) {
        for (let i = node.value.length - 1; i >= 0; i--)
          stack.push({ value: node.value[i], parent: node, key: i });
      } else {
        const keys = Object.keys(node.value);
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i] ?? '';
          stack.push({ value: node.value[key], parent: node, key });
        }
      }
    }
    return doc;
  }

  /** How many text leaves (strings and numbers) the value holds. */
  get leafCount(): number {
    return this.leaves.length;
  }

  /**
   * Every finding of `scanners` in the output, attributed to `ruleId`, in document order (then
   * by position). Each scanner reads the output once per document, whichever rule asks.
   */
  findings(ruleId: string, scanners: readonly OutputScanner[]): OutputFinding[] {
    const tagged: { hit: Hit; scanner: OutputScannerKind }[] = [];
    for (const scanner of scanners) {
      for (const hit of this.scan(scanner)) tagged.push({ hit, scanner: scanner.scanner });
    }
    if (scanners.length > 1) {
      tagged.sort(
        (a, b) => a.hit.leaf - b.hit.leaf || a.hit.start - b.hit.start || a.hit.end - b.hit.end,
      );
    }
    return tagged.map(({ hit, scanner }) => {
      const finding: OutputFinding = {
        rule_id: ruleId,
        scanner,
        kind: hit.kind,
        path: this.leafPath(hit.leaf),
        start: hit.start,
        end: hit.end,
      };
      this.located.set(finding, hit.leaf);
      return finding;
    });
  }

  /**
   * The value with every finding replaced by `[REDACTED:<kind>]`. A redacted number becomes a
   * string. Containers on the way to a redacted leaf are copied; everything else, and the whole
   * value when nothing is redacted, is the input itself, unmodified.
   * @throws Error for a finding that this document did not produce.
   */
  redact(findings: readonly OutputFinding[]): unknown {
    if (findings.length === 0) return this.value;
    const byLeaf = new Map<number, Hit[]>();
    for (const finding of findings) {
      const leaf = this.located.get(finding);
      if (leaf === undefined) throw new Error('redact: the finding comes from another document');
      const hit: Hit = { leaf, kind: finding.kind, start: finding.start, end: finding.end };
      const hits = byLeaf.get(leaf);
      if (hits === undefined) byLeaf.set(leaf, [hit]);
      else hits.push(hit);
    }
    const copies = new Map<Container, JsonContainer>();
    let redactedLeaf: unknown = this.value;
    for (const [index, hits] of byLeaf) {
      const leaf = this.leaves[index];
      if (leaf === undefined) continue;
      const redacted = redactText(leaf.text, hits);
      if (leaf.parent === null) redactedLeaf = redacted;
      else setChild(this.copyOf(leaf.parent, copies), leaf.key, redacted);
    }
    return this.root === null ? redactedLeaf : (copies.get(this.root) ?? this.value);
  }

  private scan(scanner: OutputScanner): readonly Hit[] {
    const key = scanner.scanner === 'regex' ? scanner : scanner.scanner;
    let hits = this.scans.get(key);
    if (hits === undefined) {
      hits =
        scanner.scanner === 'regex'
          ? this.scanRegex(scanner.pattern, scanner.name)
          : this.scanBuiltin(scanner.scanner);
      this.scans.set(key, hits);
    }
    return hits;
  }

  private scanBuiltin(category: DetectorCategory): Hit[] {
    const hits: Hit[] = [];
    const categories = [category];
    this.leaves.forEach((leaf, index) => {
      for (const f of scanText(leaf.text, categories))
        hits.push({ leaf: index, kind: f.kind, start: f.start, end: f.end });
    });
    return hits;
  }

  private scanRegex(pattern: RE2JS, name: string): Hit[] {
    const hits: Hit[] = [];
    this.leaves.forEach((leaf, index) => {
      const matcher = pattern.matcher(leaf.text);
      while (matcher.find()) {
        const start = matcher.start();
        const end = matcher.end();
        // An empty match marks a position, not text; there is nothing to report or redact.
        if (end > start) hits.push({ leaf: index, kind: name, start, end });
      }
    });
    return hits;
  }

  private leafPath(index: number): string {
    const leaf = this.leaves[index];
    if (leaf === undefined) return ROOT_PATH;
    return leaf.parent === null ? ROOT_PATH : this.containerPath(leaf.parent) + segment(leaf.key);
  }

  /** Builds the missing prefixes from the nearest known one down, each container's once. */
  private containerPath(node: Container): string {
    const missing: Container[] = [];
    let known: Container | null = node;
    while (known !== null && known.path === null) {
      missing.push(known);
      known = known.parent;
    }
    let path = known?.path ?? ROOT_PATH;
    for (let i = missing.length - 1; i >= 0; i--) {
      const n = missing[i];
      if (n === undefined) continue;
      path += segment(n.key);
      n.path = path;
    }
    return path;
  }

  /** The copy of `node` for this redaction, copying its uncopied ancestors first. */
  private copyOf(node: Container, copies: Map<Container, JsonContainer>): JsonContainer {
    const chain: Container[] = [];
    for (let n: Container | null = node; n !== null && !copies.has(n); n = n.parent) chain.push(n);
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = chain[i];
      if (n === undefined) continue;
      const copy = shallowCopy(n.value);
      copies.set(n, copy);
      const parentCopy = n.parent === null ? undefined : copies.get(n.parent);
      if (parentCopy !== undefined) setChild(parentCopy, n.key, copy);
    }
    const copy = copies.get(node);
    if (copy === undefined) throw new Error('copyOf: no copy was made');
    return copy;
  }
}
