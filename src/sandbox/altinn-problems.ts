import { randomBytes } from 'node:crypto';

/**
 * Altinn's two error shapes: business errors (ProblemDetails with `code` CORR-0xxxx and an integer `errorCode`)
 * and model-binding errors (`STD-00000` with `validationErrors[]` and the legacy `errors{}`).
 */

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

const SECTIONS: Record<number, string> = {
  400: '15.5.1',
  401: '15.5.2',
  403: '15.5.4',
  404: '15.5.5',
  406: '15.5.7',
  408: '15.5.9',
  409: '15.5.10',
  413: '15.5.14',
  415: '15.5.16',
  422: '15.5.21',
  500: '15.6.1',
  502: '15.6.3',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

function problemType(status: number): string {
  const section = SECTIONS[status];
  return section ? `https://tools.ietf.org/html/rfc9110#section-${section}` : 'about:blank';
}

/** A W3C traceparent-looking id, as ASP.NET puts in `traceId`. */
export function traceId(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

export interface AltinnError {
  errorCode: number;
  status: number;
  detail: string;
}

const err = (errorCode: number, status: number, detail: string): AltinnError => ({
  errorCode,
  status,
  detail,
});

/** The business errors the sandbox answers, by Altinn's numbers. */
export const E = {
  notFound: err(1001, 404, 'The requested correspondence was not found'),
  filesMismatch: err(1005, 400, 'Mismatch between uploaded files and attachment metadata'),
  duplicateRecipients: err(1006, 400, 'Recipients must be unique'),
  existingAttachmentNotFound: err(1007, 400, 'Existing attachment not found'),
  dueDateBeforeNow: err(1008, 400, 'DueDateTime cannot be prior to today'),
  dueDateBeforePublish: err(1009, 400, 'DueDateTime cannot be prior to RequestedPublishTime'),
  purgeAfterPublish: err(1013, 400, 'Sender cannot delete correspondence that has been published'),
  alreadyPurged: err(1014, 400, 'Correspondence has already been purged'),
  dueDateRequired: err(1016, 400, 'DueDateTime is required when confirmation is needed'),
  titleEmpty: err(1020, 400, 'Message title cannot be empty'),
  bodyEmpty: err(1021, 400, 'Message body cannot be empty'),
  bodyTooLong: err(1022, 400, 'Message body cannot exceed 30000 characters'),
  language: err(
    1023,
    400,
    'Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and English (en)',
  ),
  idempotentKeyInvalid: err(1033, 400, 'The idempotency key must be a valid non-empty GUID'),
  idempotentKeyReused: err(1034, 409, 'A correspondence with the same idempotent key already exists'),
  replyOptions: err(
    1035,
    400,
    'Reply options must be well-formed URIs and HTTPS with a max length of 255 characters',
  ),
  unknownResource: err(1036, 400, 'ResourceId must match an existing resource in the resource registry'),
  titleTooLong: err(1037, 400, 'Message title cannot exceed 255 characters'),
  tooManyAttachments: err(1038, 400, 'A correspondence cannot contain more than 100 attachments in total'),
  summaryTooLong: err(1042, 400, 'Message summary, if not null, must be between 0 and 255 characters long'),
  idempotentKeyWithManyRecipients: err(
    1047,
    400,
    'Idempotency key is not supported for requests with multiple recipients',
  ),
  confidentialResourceNotFlagged: err(
    1060,
    400,
    'The resource is for confidential correspondence: isConfidential must be true',
  ),
  flaggedButResourceNotConfidential: err(
    1061,
    400,
    'isConfidential is true, but the resource is not for confidential correspondence',
  ),
  fileSize: err(2004, 400, 'File must have content and has a max file size of 2GB'),
  filenameMissing: err(2010, 400, 'Filename is missing'),
  filenameTooLong: err(2011, 400, 'Filename is too long'),
  filenameInvalid: err(2012, 400, 'Filename contains invalid characters'),
  filetypeNotAllowed: err(2013, 400, 'Filetype not allowed'),
  missingEmailContent: err(
    3002,
    400,
    'Email body and subject must be provided when sending email notifications',
  ),
  missingEmailReminderContent: err(
    3003,
    400,
    'Reminder email body and subject must be provided when sending reminder email notifications',
  ),
  missingSmsContent: err(3004, 400, 'SMS body must be provided when sending SMS notifications'),
  missingSmsReminderContent: err(
    3005,
    400,
    'Reminder SMS body must be provided when sending reminder SMS notifications',
  ),
  missingPreferredContent: err(
    3006,
    400,
    'Email body, subject and SMS body must be provided when sending preferred notifications',
  ),
  missingPreferredReminderContent: err(
    3007,
    400,
    'Reminder email body, subject and SMS body must be provided when sending reminder preferred notifications',
  ),
  missingEmailAndSmsContent: err(
    3024,
    400,
    'Email subject, email body and SMS body are all needed when notifying by both email and SMS',
  ),
  missingEmailAndSmsReminderContent: err(
    3025,
    400,
    'Reminder email subject, reminder email body and reminder SMS body are all needed when reminding by both email and SMS',
  ),
} as const;

export function lacksRolesError(recipients: string[]): AltinnError {
  return err(
    1044,
    400,
    `The following recipients lack required roles to read the correspondence: ${recipients.join(', ')}`,
  );
}

/** The publish-time failure text for a confidential correspondence to an organisation without the roles. */
export function lacksRolesStatusText(correspondenceId: string): string {
  return `Recipient of ${correspondenceId} lacks roles required to read correspondence. Consider sending physical mail to this recipient instead.`;
}

export function businessProblem(e: AltinnError): Record<string, unknown> {
  return {
    type: problemType(e.status),
    title: statusTitle(e.status),
    status: e.status,
    detail: e.detail,
    code: `CORR-${String(e.errorCode).padStart(5, '0')}`,
    errorCode: e.errorCode,
    traceId: traceId(),
  };
}

/** One model-binding problem: `path` is the ModelState key, e.g. `Correspondence.Content.MessageTitle`. */
export interface ModelError {
  path: string;
  message: string;
}

/** Appends to a list in a record of lists, creating the list when needed. */
export function appendTo(map: Record<string, string[]>, key: string, value: string): void {
  const list = map[key];
  if (list) list.push(value);
  else map[key] = [value];
}

export function validationProblem(errors: ModelError[]): Record<string, unknown> {
  const legacy: Record<string, string[]> = {};
  for (const e of errors) appendTo(legacy, e.path, e.message);
  return {
    type: problemType(400),
    title: statusTitle(400),
    status: 400,
    code: 'STD-00000',
    statusDescription: 'One or more validation errors occurred.',
    validationErrors: Object.entries(legacy).map(([path, messages]) => ({
      code: 'CORR.VLD-00000',
      title: messages.join(' '),
      paths: [path.replaceAll('.', '/')],
    })),
    errors: legacy,
    traceId: traceId(),
  };
}

/** A plain problem without an Altinn code, for transport-level refusals (bad JSON framing, media type, size). */
export function plainProblem(status: number, detail: string): Record<string, unknown> {
  return { type: problemType(status), title: statusTitle(status), status, detail, traceId: traceId() };
}

/** Thrown inside request handling; the sandbox's error handler turns it into the matching problem body. */
export class AltinnProblem extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(typeof body.detail === 'string' ? body.detail : statusTitle(status), options);
    this.name = 'AltinnProblem';
  }

  static of(e: AltinnError): AltinnProblem {
    return new AltinnProblem(e.status, businessProblem(e));
  }

  static model(errors: ModelError[]): AltinnProblem {
    return new AltinnProblem(400, validationProblem(errors));
  }
}
