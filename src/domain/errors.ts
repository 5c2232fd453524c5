/**
 * Domain errors carry a stable code (the reference's exception class name where one exists)
 * and an HTTP status; one handler turns them into the response body.
 */
export interface ProblemItem {
  /** Field path (SBD) or element path (arkivmelding), e.g. standardBusinessDocumentHeader.receiver */
  field?: string;
  path?: string;
  line?: number;
  column?: number;
  code: string;
  message: string;
  rejectedValue?: unknown;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { description?: string; errors?: ProblemItem[] } = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = code;
  }
}

const err =
  (status: number, code: string) =>
  (message: string, extra?: AppError['extra'], cause?: unknown): AppError =>
    new AppError(status, code, message, extra, cause);

/** Codes the reference integration point also uses (its exception simple names). */
export const REFERENCE_CODES = new Set([
  'MessageAlreadyExistsException',
  'MessageNotFoundException',
  'MessageNotLockedException',
  'ConversationNotFoundException',
  'ReceiverDoesNotAcceptProcessException',
  'IdentifierNotFoundException',
  'MessageTypeDoesNotFitDocumentTypeException',
  'DuplicateFilenameException',
  'MaxFileSizeExceededException',
  'MultiplePrimaryDocumentsNotAllowedException',
  'MissingFileTitleException',
  'MissingFileException',
  'TimeToLiveException',
  'MissingArkivmeldingException',
  'MissingArkivmeldingFileException',
  'MultipartFileToLargeException',
  'ConstraintViolationException',
  'MissingHttpHeaderException',
  'ServiceNotEnabledException',
]);

export const Errors = {
  validation: err(400, 'ConstraintViolationException'),
  badJson: err(400, 'HttpMessageNotReadableException'),
  unknownMessageType: err(400, 'UnknownMessageTypeException'),
  typeDoesNotFit: err(400, 'MessageTypeDoesNotFitDocumentTypeException'),
  messageExists: err(400, 'MessageAlreadyExistsException'),
  receiverDoesNotAccept: err(400, 'ReceiverDoesNotAcceptProcessException'),
  serviceNotSupported: err(400, 'ServiceNotSupportedException'),
  identifierNotFound: err(404, 'IdentifierNotFoundException'),
  messageNotFound: err(404, 'MessageNotFoundException'),
  messageNotLocked: err(400, 'MessageNotLockedException'),
  conversationNotFound: err(404, 'ConversationNotFoundException'),
  duplicateFilename: err(400, 'DuplicateFilenameException'),
  invalidFilename: err(400, 'InvalidFilenameException'),
  maxSize: err(400, 'MaxFileSizeExceededException'),
  multipartFileTooLarge: err(400, 'MultipartFileToLargeException'),
  multiplePrimary: err(400, 'MultiplePrimaryDocumentsNotAllowedException'),
  missingTitle: err(400, 'MissingFileTitleException'),
  missingFile: err(400, 'MissingFileException'),
  missingHeader: err(400, 'MissingHttpHeaderException'),
  timeToLive: err(400, 'TimeToLiveException'),
  missingArkivmelding: err(400, 'MissingArkivmeldingException'),
  missingArkivmeldingFile: err(400, 'MissingArkivmeldingFileException'),
  invalidArkivmelding: err(400, 'InvalidArkivmeldingException'),
  messageAlreadySent: err(400, 'MessageAlreadySentException'),
  sendInProgress: err(409, 'MessageSendInProgressException'),
  invalidStatusTransition: err(409, 'InvalidStatusTransitionException'),
  unauthorized: err(401, 'UnauthorizedException'),
  tooManyAuthenticationFailures: err(429, 'TooManyAuthenticationFailuresException'),
  notFound: err(404, 'NotFoundException'),
  badRequest: err(400, 'BadRequestException'),
  requestTimeout: err(408, 'RequestTimeoutException'),
  uriTooLong: err(414, 'UriTooLongException'),
  headersTooLarge: err(431, 'RequestHeaderFieldsTooLargeException'),
  payloadTooLarge: err(413, 'PayloadTooLargeException'),
  unsupportedMediaType: err(415, 'UnsupportedMediaTypeException'),
  addressServiceUnavailable: err(503, 'ServiceRegistryUnavailableException'),
  addressServiceBadSignature: err(502, 'ServiceRegistrySignatureException'),
  storeUnavailable: err(503, 'StoreUnavailableException'),
};
