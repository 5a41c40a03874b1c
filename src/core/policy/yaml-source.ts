/**
 * A thin reader over the YAML syntax tree that keeps source positions, so validation can say
 * `file:line:col` for every problem. It reports into a shared problem list and never throws.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { Problem, ProblemCode } from './problems.js';

export type YamlNode = Node | null;

export class SourceReader {
  readonly problems: Problem[] = [];
  private readonly lines: LineCounter;
  private readonly doc: Document;

  constructor(lines: LineCounter, doc: Document) {
    this.lines = lines;
    this.doc = doc;
  }

  /** Follows YAML aliases (`*name`) to the node they point at. */
  deref(node: YamlNode): YamlNode {
    return isAlias(node) ? ((node.resolve(this.doc) as Node | undefined) ?? null) : node;
  }

  /** The JS value of a scalar node, or undefined for non-scalars. */
  scalar(node: YamlNode): unknown {
    const target = this.deref(node);
    return isScalar(target) ? target.value : undefined;
  }

  /** The plain JS value of any node, aliases resolved. */
  toJs(node: YamlNode): unknown {
    return node === null ? null : (node.toJS(this.doc) as unknown);
  }

  report(node: YamlNode | Pair, path: string, code: ProblemCode, message: string): void {
    const offset = offsetOf(node);
    const pos = this.lines.linePos(offset);
    this.problems.push({ code, path, line: pos.line, col: pos.col, message });
  }

  /** Reads a mapping, reporting unknown keys. Returns key → value node, or null if not a map. */
  map(
    node: YamlNode,
    path: string,
    allowed: readonly string[] | null,
  ): Map<string, { key: Node; value: YamlNode }> | null {
    node = this.deref(node);
    if (!isMap(node)) {
      this.report(node, path, 'wrong_type', `${label(path)} must be a mapping`);
      return null;
    }
    const entries = new Map<string, { key: Node; value: YamlNode }>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.report(keyNode ?? pair, path, 'wrong_type', `keys of ${label(path)} must be strings`);
        continue;
      }
      const key = keyNode.value;
      if (allowed !== null && !allowed.includes(key)) {
        this.report(
          keyNode,
          join(path, key),
          'unknown_key',
          `unknown key "${key}" in ${label(path)}; expected one of: ${allowed.join(', ')}`,
        );
        continue;
      }
      entries.set(key, { key: keyNode, value: pair.value as YamlNode });
    }
    return entries;
  }

  sequence(node: YamlNode, path: string): YamlNode[] | null {
    node = this.deref(node);
    if (!isSeq(node)) {
      this.report(node, path, 'wrong_type', `${label(path)} must be a list`);
      return null;
    }
    return node.items as YamlNode[];
  }

  string(node: YamlNode, path: string): string | null {
    node = this.deref(node);
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.report(node, path, 'wrong_type', `${label(path)} must be a string`);
    return null;
  }

  /** A list of strings; a single string is not accepted, to keep lists visibly lists. */
  strings(node: YamlNode, path: string): string[] | null {
    const items = this.sequence(node, path);
    if (items === null) return null;
    const out: string[] = [];
    items.forEach((item, i) => {
      const value = this.string(item, `${path}[${i}]`);
      if (value !== null) out.push(value);
    });
    return out.length === items.length ? out : null;
  }

  boolean(node: YamlNode, path: string): boolean | null {
    node = this.deref(node);
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.report(node, path, 'wrong_type', `${label(path)} must be true or false`);
    return null;
  }

  /** A whole number within [min, max]. */
  integer(node: YamlNode, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | null {
    node = this.deref(node);
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) {
      if (node.value >= min && node.value <= max) return node.value;
      this.report(node, path, 'bad_value', `${label(path)} must be between ${min} and ${max}`);
      return null;
    }
    this.report(node, path, 'wrong_type', `${label(path)} must be a whole number`);
    return null;
  }

  /** One of a fixed set of string values. */
  oneOf<T extends string>(node: YamlNode, path: string, values: readonly T[]): T | null {
    const text = this.string(node, path);
    if (text === null) return null;
    if ((values as readonly string[]).includes(text)) return text as T;
    this.report(
      node,
      path,
      'bad_value',
      `${label(path)} must be one of: ${values.join(', ')} (got "${text}")`,
    );
    return null;
  }
}

export interface ParsedYaml {
  readonly root: YamlNode;
  readonly reader: SourceReader;
}

/** Parses YAML text; syntax errors (including duplicate keys) are reported, not thrown. */
export function parseYaml(text: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const reader = new SourceReader(lines, doc);
  for (const error of doc.errors) {
    // With prettyErrors off, the parser leaves linePos unset; pos holds the offset.
    const { line, col } = lines.linePos(error.pos[0]);
    const message = error.message.split('\n')[0] ?? error.message;
    reader.problems.push({ code: 'yaml_syntax', path: '', line, col, message });
  }
  return { root: doc.contents, reader };
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function label(path: string): string {
  return path === '' ? 'the document' : `"${path}"`;
}

function offsetOf(node: YamlNode | Pair): number {
  if (node === null) return 0;
  if ('range' in node && node.range) return node.range[0];
  if ('key' in node) return offsetOf(node.key as YamlNode);
  return 0;
}
