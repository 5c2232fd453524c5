import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ProblemItem, REFERENCE_CODES } from '../domain/errors.js';
import { formatOslo } from '../domain/time.js';

const FQCN_PREFIX = 'no.difi.meldingsutveksling.exceptions.';

/** One body for every error: RFC 9457 fields and the reference's fields side by side. */
export function problemBody(
  request: FastifyRequest,
  status: number,
  code: string,
  message: string,
  style: 'short' | 'fqcn',
  extra: { description?: string; errors?: ProblemItem[] } = {},
) {
  const title = STATUS_CODES[status] ?? 'Error';
  const path = request.url.split('?')[0] ?? request.url;
  return {
    type: `urn:eformidling-ip:error:${code}`,
    title,
    status,
    detail: message,
    instance: `urn:request:${request.id}`,
    timestamp: formatOslo(new Date()),
    error: title,
    exception: style === 'fqcn' && REFERENCE_CODES.has(code) ? FQCN_PREFIX + code : code,
    message,
    path,
    ...(extra.description ? { description: extra.description } : {}),
    ...(extra.errors?.length ? { errors: extra.errors } : {}),
    requestId: request.id,
  };
}

function isRedisDown(err: Error): boolean {
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|Command timed out|Stream isn't writeable/i.test(err.message)
  );
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: { issue?: { path?: PropertyKey[] } };
}

export function registerErrorHandling(app: FastifyInstance, style: 'short' | 'fqcn'): void {
  const send = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    code: string,
    message: string,
    extra?: AppError['extra'],
  ) =>
    reply
      .status(status)
      .type('application/json')
      .send(problemBody(request, status, code, message, style, extra));

  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (err instanceof AppError) return send(request, reply, err.status, err.code, err.message, err.extra);
    const fe = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
    if (fe.validation) {
      const ctx = fe.validationContext ?? 'request';
      const errors: ProblemItem[] = fe.validation.map((v) => {
        const path = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
        const field = path ? `${ctx}.${path}` : ctx;
        return { field, code: 'Invalid', message: `${field}: ${v.message ?? 'is invalid'}` };
      });
      return send(
        request,
        reply,
        400,
        'ConstraintViolationException',
        errors.map((e) => e.message).join('; '),
        {
          errors,
        },
      );
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(
          request,
          reply,
          413,
          'PayloadTooLargeException',
          'The request body is larger than allowed',
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(
          request,
          reply,
          415,
          'UnsupportedMediaTypeException',
          `Unsupported Content-Type here: ${request.headers['content-type'] ?? '(none)'}`,
        );
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(
          request,
          reply,
          400,
          'HttpMessageNotReadableException',
          'The request body is empty; a JSON document is required',
        );
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return send(
          request,
          reply,
          400,
          'HttpMessageNotReadableException',
          `JSON parse error: ${fe.message}`,
        );
    }
    if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      return send(request, reply, 400, 'HttpMessageNotReadableException', `JSON parse error: ${err.message}`);
    }
    if (isRedisDown(err)) {
      request.log.error({ err: { name: err.name, message: err.message } }, 'store unavailable');
      return send(
        request,
        reply,
        503,
        'StoreUnavailableException',
        'The message store (Redis) is unavailable; try again shortly',
      );
    }
    const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status < 500) return send(request, reply, status, fe.code ?? 'BadRequestException', fe.message);
    request.log.error({ err }, 'unhandled error');
    return send(
      request,
      reply,
      500,
      'InternalServerErrorException',
      'Internal error; see the server log for request ' + request.id,
    );
  });

  app.setNotFoundHandler((request, reply) =>
    send(
      request,
      reply,
      404,
      'NotFoundException',
      `No endpoint ${request.method} ${request.url.split('?')[0]}`,
    ),
  );
}
