/**
 * Layering, derived from the source itself so it cannot silently rot: every relative import is
 * resolved and checked against the allowed layer graph, and the module graph must be acyclic.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve('src');

/** Which layers each layer may import. A layer is the first directory under src/. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: ['core'],
  ports: ['core', 'ports'],
  app: ['core', 'ports', 'app'],
  adapters: ['core', 'ports', 'adapters'],
  http: ['core', 'ports', 'app', 'http'],
  mcp: ['core', 'ports', 'app', 'sdk', 'mcp'],
  sdk: ['core', 'sdk'],
  cli: ['core', 'ports', 'app', 'adapters', 'http', 'mcp', 'sdk', 'main', 'cli'],
  main: ['core', 'ports', 'app', 'adapters', 'http', 'mcp', 'main'],
  '.': ['core', 'sdk', '.'],
};

/** Packages the pure core may use: none of them does I/O. */
const CORE_PACKAGES = ['yaml', '@marcbachmann/cel-js', 're2js', '@noble/hashes'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] ?? '');
  const bare = [...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? '');
  const dynamic = [...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? '');
  return [...specifiers, ...bare, ...dynamic];
}

function layerOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split('/')[0] ?? '';
  return rel.includes('/') ? first : '.';
}

function resolveRelative(from: string, specifier: string): string {
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
}

const files = sourceFiles(SRC);
const graph = new Map(
  files.map((file) => [
    file,
    importsOf(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(file, s)),
  ]),
);

describe('architecture', () => {
  it('every layer imports only the layers it may', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph) {
      const allowed = ALLOWED[layerOf(file)];
      assert.ok(allowed, `no layering rule for ${relative(SRC, file)}; add its layer to ALLOWED`);
      for (const target of targets) {
        if (!allowed.includes(layerOf(target)))
          violations.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('core/ imports no platform module and only I/O-free packages', () => {
    const violations: string[] = [];
    for (const file of files.filter((f) => layerOf(f) === 'core')) {
      for (const specifier of importsOf(file).filter((s) => !s.startsWith('.'))) {
        const allowed = CORE_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`));
        if (!allowed) violations.push(`${relative(SRC, file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('relative imports resolve to files that exist', () => {
    for (const [file, targets] of graph) {
      for (const target of targets)
        assert.ok(graph.has(target), `${relative(SRC, file)} imports missing ${target}`);
    }
  });

  it('has no import cycles', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push(
          [...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' -> '),
        );
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  it('sees the source tree (guards against an empty scan passing vacuously)', () => {
    assert.ok(files.length >= 15, `only ${files.length} files found`);
    assert.ok([...graph.values()].some((targets) => targets.length > 0));
  });
});
