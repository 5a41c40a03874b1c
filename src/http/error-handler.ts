/**
 * The one place that turns failures into HTTP responses: registered `WardenError`s keep their
 * code and status; Fastify's own errors (validation, body size, media type, bad JSON) map to
 * registered codes; anything else is a logged 500 that reveals nothing.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorEnvelope, WardenError } from '../core/errors.js';

function fromFastify(error: FastifyError): WardenError | null {
  if (error.validation !== undefined) {
    const problems = error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath}`,
      message: v.message ?? 'is invalid',
      ...(v.params['additionalProperty'] === undefined
        ? {}
        : { field: v.params['additionalProperty'] }),
    }));
    const first = problems[0];
    const message =
      first === undefined ? 'invalid request' : `${first.path || 'request'} ${first.message}`;
    return new WardenError('WARDEN_VALIDATION', message, { problems });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WardenError('WARDEN_BODY_TOO_LARGE', 'the request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new WardenError('WARDEN_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new WardenError('WARDEN_MALFORMED_JSON', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new WardenError('WARDEN_VALIDATION', 'the Content-Length does not match the body');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new WardenError('WARDEN_MALFORMED_JSON', `the body is not valid JSON: ${error.message}`);
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new WardenError('WARDEN_VALIDATION', error.message);
  }
  return null;
}

/** Errors the router raises before any route runs (bad URL encoding, overlong parameters). */
export function frameworkErrors(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const known =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new WardenError('WARDEN_VALIDATION', 'a path parameter is longer than 512 characters')
      : new WardenError('WARDEN_VALIDATION', `the URL is not valid: ${error.message}`);
  void reply.code(known.status).send(errorEnvelope(known));
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof WardenError ? error : fromFastify(error);
    if (known === null) {
      request.log.error({ err: error }, 'unhandled error');
      const internal = new WardenError('WARDEN_INTERNAL', 'an unexpected error occurred');
      return reply.code(internal.status).send(errorEnvelope(internal));
    }
    return reply.code(known.status).send(errorEnvelope(known));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new WardenError(
      'WARDEN_ROUTE_NOT_FOUND',
      `no endpoint ${request.method} ${request.url.split('?')[0] ?? ''}`,
    );
    return reply.code(error.status).send(errorEnvelope(error));
  });
}
