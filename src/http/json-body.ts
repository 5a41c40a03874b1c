/**
 * JSON bodies: Fastify's own parser (prototype-poisoning refused), then one pass that refuses
 * what JSON.parse lets through but the gateway cannot hold: numbers beyond the double range
 * (`1e999` parses to Infinity, which has no canonical form for the job hash or the audit chain)
 * and nesting deeper than any real action needs (deep values make every later walk expensive).
 */
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../core/errors.js';

/** Deepest nesting of objects and arrays accepted in a body. */
export const MAX_JSON_DEPTH = 64;

export function installJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parse(
      request,
      typeof body === 'string' ? body : body.toString('utf8'),
      (error, value: unknown) => {
        if (error !== null) {
          done(error, undefined);
          return;
        }
        const problem = unrepresentable(value);
        if (problem === null) done(null, value);
        else done(problem, undefined);
      },
    );
  });
}

/** The first reason the value cannot be accepted, or null. Iterative: no recursion to overflow. */
export function unrepresentable(value: unknown): WardenError | null {
  const pending: { value: unknown; depth: number; path: string }[] = [
    { value, depth: 0, path: '' },
  ];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, depth, path } = next;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) {
        return new WardenError(
          'WARDEN_VALIDATION',
          `body${path} is a number outside the range JSON can carry exactly; send it as a string`,
          { path: `body${path}` },
        );
      }
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_JSON_DEPTH) {
        return new WardenError(
          'WARDEN_VALIDATION',
          `body${path} nests deeper than ${String(MAX_JSON_DEPTH)} levels`,
          { path: `body${path}`, limit: MAX_JSON_DEPTH },
        );
      }
      if (Array.isArray(current)) {
        current.forEach((item: unknown, i) => {
          pending.push({ value: item, depth: depth + 1, path: `${path}/${String(i)}` });
        });
      } else {
        for (const [key, item] of Object.entries(current)) {
          pending.push({ value: item, depth: depth + 1, path: `${path}/${key}` });
        }
      }
    }
  }
  return null;
}
