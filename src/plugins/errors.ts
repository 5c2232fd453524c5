import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, Errors, type ProblemItem, REFERENCE_CODES } from '../domain/errors.js';
import { formatOslo } from '../domain/time.js';

const FQCN_PREFIX = 'no.difi.meldingsutveksling.exceptions.';

/** One body for every error: RFC 9457 fields and the reference's fields side by side. */
export function problemBody(
  request: { url: string; id: string },
  status: number,
  code: string,
  message: string,
  style: 'short' | 'fqcn',
  extra: { description?: string; errors?: ProblemItem[] } = {},
) {
  const title = STATUS_CODES[status] ?? 'Error';
  const path = (request.url ?? '').split('?')[0] ?? '';
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

  // The same answer for any unmatched path and method, with or without credentials: it names no route.
  app.setNotFoundHandler((request, reply) => {
    const e = Errors.notFound('No such endpoint');
    return send(request, reply, e.status, e.code, e.message);
  });
}

/** Errors Fastify raises before a route is found: a path that does not decode, an over-long path parameter. */
export function frameworkErrorHandler(style: 'short' | 'fqcn') {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const e =
      err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? Errors.uriTooLong('A path segment of the request is longer than allowed')
        : err.code === 'FST_ERR_BAD_URL'
          ? Errors.badRequest('The request path is not valid percent-encoded UTF-8')
          : Errors.badRequest('The request could not be routed');
    reply
      .status(e.status)
      .type('application/json')
      .send(JSON.stringify(problemBody(request, e.status, e.code, e.message, style)));
  };
}

/**
 * Errors from Node's HTTP parser, before there is a request: over-large headers (431), a request line or
 * headers that are not HTTP (400), a client too slow to send its headers (408). The connection is closed after.
 */
export function clientErrorHandler(style: 'short' | 'fqcn') {
  return (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const e =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? Errors.headersTooLarge('The request line or headers are larger than allowed')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? Errors.requestTimeout('The request was not received in time')
          : Errors.badRequest('The request is not valid HTTP');
    if (socket.writable) {
      const body = JSON.stringify(
        problemBody({ url: '', id: randomUUID() }, e.status, e.code, e.message, style),
      );
      socket.write(
        `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
  };
}
