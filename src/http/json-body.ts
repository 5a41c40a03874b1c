/**
 * JSON bodies: Fastify's own parser (prototype-poisoning refused), then one pass that refuses
 * what JSON.parse lets through but the gateway cannot hold: numbers beyond the double range
 * (`1e999` parses to Infinity, which has no canonical form for the job hash or the audit chain)
 * nesting deeper than any real action needs (deep values make every later walk expensive),
 * strings longer than the configured limit, and lone UTF-16 surrogates (not Unicode: they have no
 * UTF-8 form, so the store and the JCS job hash would silently change them).
 */
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../core/errors.js';
import type { RequestLimits } from './limits.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Strings in this route's JSON body are bounded by the body limit and the schema only, not
     * by `string_chars` (a policy's source, a worker's output).
     */
    readonly longStrings?: boolean;
  }
}

/** What the JSON pass bounds: nesting depth, and string length (null: no bound). */
export interface JsonBounds {
  readonly depth: number;
  readonly stringChars: number | null;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function installJsonBodies(app: FastifyInstance, limits: RequestLimits): void {
  const bounded: JsonBounds = { depth: limits.json_depth, stringChars: limits.string_chars };
  const long: JsonBounds = { depth: limits.json_depth, stringChars: null };
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    void parse(request, text, (error, value: unknown) => {
      if (error !== null) {
        done(explained(error, text), undefined);
        return;
      }
      const problem = unrepresentable(
        value,
        request.routeOptions.config.longStrings === true ? long : bounded,
      );
      if (problem === null) done(null, value);
      else done(problem, undefined);
    });
  });
}

/**
 * Fastify's parser says only "not valid JSON", also for valid JSON it refuses for prototype
 * poisoning. On that (rare) path, parse again to say where the syntax breaks, or which key to
 * rename.
 */
function explained(error: Error, text: string): Error {
  if ((error as { code?: unknown }).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return error;
  try {
    JSON.parse(text);
  } catch (syntax) {
    const reason = syntax instanceof Error ? syntax.message : String(syntax);
    return new WardenError('WARDEN_MALFORMED_JSON', `the body is not valid JSON: ${reason}`);
  }
  return new WardenError(
    'WARDEN_MALFORMED_JSON',
    'the body has a "__proto__" key or a "constructor" key holding "prototype", which are ' +
      'refused (prototype poisoning); rename the key',
  );
}

/** The first reason the value cannot be accepted, or null. Iterative: no recursion to overflow. */
export function unrepresentable(value: unknown, bounds: JsonBounds): WardenError | null {
  const pending: { value: unknown; depth: number; path: string }[] = [
    { value, depth: 0, path: '' },
  ];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, depth, path } = next;
    if (typeof current === 'string') {
      const problem = badString(current, `body${path}`, bounds);
      if (problem !== null) return problem;
    } else if (typeof current === 'number') {
      if (!Number.isFinite(current)) {
        return new WardenError(
          'WARDEN_VALIDATION',
          `body${path} is a number outside the range JSON can carry exactly; send it as a string`,
          { path: `body${path}` },
        );
      }
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= bounds.depth) {
        return new WardenError(
          'WARDEN_VALIDATION',
          `body${path} nests deeper than ${String(bounds.depth)} levels; flatten it`,
          { path: `body${path}`, limit: bounds.depth },
        );
      }
      if (Array.isArray(current)) {
        current.forEach((item: unknown, i) => {
          pending.push({ value: item, depth: depth + 1, path: `${path}/${String(i)}` });
        });
      } else {
        for (const [key, item] of Object.entries(current)) {
          const problem = badString(key, `body${path}`, bounds, 'a key');
          if (problem !== null) return problem;
          pending.push({ value: item, depth: depth + 1, path: `${path}/${key}` });
        }
      }
    }
  }
  return null;
}

function badString(
  text: string,
  path: string,
  bounds: JsonBounds,
  what = 'a string',
): WardenError | null {
  if (bounds.stringChars !== null && text.length > bounds.stringChars) {
    return new WardenError(
      'WARDEN_VALIDATION',
      `${path} holds ${what} of ${String(text.length)} characters; the limit is ` +
        `${String(bounds.stringChars)}: send large data by reference`,
      { path, limit: bounds.stringChars, length: text.length },
    );
  }
  if (LONE_SURROGATE.test(text)) {
    return new WardenError(
      'WARDEN_VALIDATION',
      `${path} holds ${what} with a lone UTF-16 surrogate, which is not Unicode; send valid UTF-8`,
      { path },
    );
  }
  return null;
}
