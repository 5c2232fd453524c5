import { AltinnProblem, E, type ModelError } from './altinn-problems.js';

/**
 * Reads an InitializeCorrespondencesExt from the multipart form (dotted, indexed keys, case-insensitive as MVC
 * binds them) or from JSON (case-insensitive member names, as System.Text.Json reads them for web APIs), and
 * applies the checks Altinn makes: attribute checks first (one STD-00000 problem listing them all), then the
 * handler's business rules (CORR-xxxxx), in Altinn's order.
 */

export const NOTIFICATION_CHANNELS = [
  'Email',
  'Sms',
  'EmailPreferred',
  'SmsPreferred',
  'EmailAndSms',
] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];
const NOTIFICATION_TEMPLATES = ['CustomMessage', 'GenericAltinnMessage'] as const;
const CONTENT_TYPES = ['Plain', 'Html'] as const;
const DATA_LOCATION_TYPES = [
  'NewCorrespondenceAttachment',
  'ExistingCorrespondenceAttachment',
  'ExistingExternalStorage',
] as const;
const REFERENCE_TYPES = [
  'Generic',
  'AltinnAppInstance',
  'AltinnBrokerFileTransfer',
  'DialogportenDialogId',
  'DialogportenProcessId',
  'DialogportenTransmissionId',
  'DialogportenTransmissionType',
] as const;

export const ALLOWED_EXTENSIONS = new Set(
  '.doc .xls .docx .xlsx .ppt .pps .zip .pdf .html .txt .xml .jpg .jpeg .gif .bmp .png .json .csv .dcm .dicom'.split(
    ' ',
  ),
);

export interface AttachmentMetadata {
  fileName?: string;
  displayName?: string;
  isEncrypted: boolean;
  checksum?: string;
  sendersReference: string;
  dataLocationType: (typeof DATA_LOCATION_TYPES)[number];
  expirationInDays?: number;
}

export interface NotificationRequest {
  notificationTemplate: (typeof NOTIFICATION_TEMPLATES)[number];
  notificationChannel: NotificationChannel;
  reminderNotificationChannel?: NotificationChannel;
  emailSubject?: string;
  emailBody?: string;
  emailContentType: (typeof CONTENT_TYPES)[number];
  smsBody?: string;
  sendReminder: boolean;
  reminderEmailSubject?: string;
  reminderEmailBody?: string;
  reminderEmailContentType: (typeof CONTENT_TYPES)[number];
  reminderSmsBody?: string;
  sendersReference?: string;
}

export interface CorrespondenceRequest {
  recipients: string[];
  idempotentKey?: string;
  existingAttachments: string[];
  correspondence: {
    resourceId: string;
    sendersReference: string;
    messageSender?: string;
    requestedPublishTime?: Date;
    dueDateTime?: Date;
    externalReferences: { referenceValue: string; referenceType: (typeof REFERENCE_TYPES)[number] }[];
    propertyList: Record<string, string>;
    replyOptions: { linkURL: string; linkText?: string }[];
    notification?: NotificationRequest;
    ignoreReservation?: boolean;
    isConfirmationNeeded: boolean;
    isConfidential: boolean;
    allowForwarding: boolean;
    content: {
      language: string;
      messageTitle: string;
      messageSummary?: string;
      messageBody: string;
      attachments: AttachmentMetadata[];
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Building the tree

/** A bound value: objects have lower-cased member names (property-list keys keep theirs), arrays keep order. */
export type Tree = string | number | boolean | null | Tree[] | { [k: string]: Tree };
type TreeObject = { [k: string]: Tree };

const isObject = (v: unknown): v is TreeObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON → tree: member names folded to lower case, except the free keys of `propertyList`. */
export function treeFromJson(value: unknown, parentKey = ''): Tree {
  if (Array.isArray(value)) return value.map((v) => treeFromJson(v));
  if (isObject(value)) {
    const out: TreeObject = Object.create(null);
    const keepCase = parentKey === 'propertylist';
    for (const [k, v] of Object.entries(value))
      out[keepCase ? k : k.toLowerCase()] = treeFromJson(v, k.toLowerCase());
    return out;
  }
  if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    value === null
  ) {
    return value;
  }
  return null;
}

type Segment = { key: string } | { index: number };

/** `correspondence.content.attachments[0].fileName` → key/index segments; null when the key is not well formed. */
function parseFormKey(raw: string): Segment[] | null {
  const segments: Segment[] = [];
  for (const dotted of raw.split('.')) {
    const m = /^([^[\]]+)((?:\[\d{1,4}\])*)$/.exec(dotted);
    if (!m) return null;
    segments.push({ key: m[1]! });
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) segments.push({ index: Number(idx[1]) });
  }
  return segments;
}

/**
 * Form fields → tree. Indexed entries become arrays in index order; a key repeated without an index (MVC's
 * `recipients=a&recipients=b`) becomes an array too. Keys that do not parse are ignored, as MVC ignores them.
 */
export function treeFromForm(fields: Record<string, string[]>): TreeObject {
  type Node = { value?: string[]; children: Map<string, Node>; indexed: Map<number, Node> };
  const node = (): Node => ({ children: new Map(), indexed: new Map() });
  const root = node();
  for (const [rawKey, values] of Object.entries(fields)) {
    const segments = parseFormKey(rawKey.trim());
    if (!segments) continue;
    let at = root;
    let previous = '';
    for (const s of segments) {
      if ('key' in s) {
        const k = previous === 'propertylist' ? s.key : s.key.toLowerCase();
        previous = s.key.toLowerCase();
        const next = at.children.get(k) ?? node();
        at.children.set(k, next);
        at = next;
      } else {
        previous = '';
        const next = at.indexed.get(s.index) ?? node();
        at.indexed.set(s.index, next);
        at = next;
      }
    }
    at.value = [...(at.value ?? []), ...values];
  }
  const build = (n: Node): Tree => {
    if (n.indexed.size > 0) {
      return [...n.indexed.entries()].sort(([a], [b]) => a - b).map(([, child]) => build(child));
    }
    if (n.children.size > 0) {
      // No prototype: a form key such as `__proto__` stays an ordinary (ignored) member.
      const out: TreeObject = Object.create(null);
      for (const [k, child] of n.children) out[k] = build(child);
      return out;
    }
    const v = n.value ?? [];
    return v.length === 1 ? (v[0] as string) : v;
  };
  const built = build(root);
  return isObject(built) ? built : {};
}

// ---------------------------------------------------------------------------------------------------------------
// Reading typed values out of the tree, collecting attribute errors

/** A value as an error message shows it; form trees have no prototype, so String() would throw on them. */
function shown(v: Tree): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

class Reader {
  readonly errors: ModelError[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  obj(v: Tree | undefined, path: string): TreeObject | undefined {
    if (v === undefined || v === null) return undefined;
    if (isObject(v)) return v;
    return this.fail(path, `The value at ${path} must be an object.`);
  }

  str(v: Tree | undefined, path: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.length === 0) return undefined;
    return this.fail(path, `The value at ${path} must be a string.`);
  }

  required(v: string | undefined, path: string, field: string): string | undefined {
    if (v === undefined || v === '') return this.fail(path, `The ${field} field is required.`);
    return v;
  }

  length(v: string | undefined, path: string, field: string, min: number, max: number): string | undefined {
    if (v === undefined) return v;
    if (v.length < min || v.length > max) {
      return this.fail(
        path,
        min > 0
          ? `The field ${field} must be a string with a minimum length of ${min} and a maximum length of ${max}.`
          : `The field ${field} must be a string with a maximum length of ${max}.`,
      );
    }
    return v;
  }

  bool(v: Tree | undefined, path: string): boolean | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    return this.fail(path, `The value '${shown(v)}' is not valid for ${lastName(path)}.`);
  }

  int(v: Tree | undefined, path: string): number | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim()) ? Number(v) : NaN;
    if (Number.isInteger(n)) return n;
    return this.fail(path, `The value '${shown(v)}' is not valid for ${lastName(path)}.`);
  }

  date(v: Tree | undefined, path: string): Date | undefined {
    const s = this.str(v, path);
    if (s === undefined || s === '') return undefined;
    // Altinn reads offset-less date-times as local server time; the sandbox reads them as UTC.
    const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/i.exec(s.trim());
    const withZone = iso && !iso[4] && iso[1] ? `${s.trim()}Z` : s.trim();
    const d = iso ? new Date(withZone) : new Date(NaN);
    if (Number.isNaN(d.getTime()))
      return this.fail(path, `The value '${s}' is not valid for ${lastName(path)}.`);
    return d;
  }

  /** Enum by name (case-insensitive) or by its integer value, as JsonStringEnumConverter and MVC accept. */
  enumOf<T extends string>(v: Tree | undefined, path: string, names: readonly T[]): T | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'number' || (typeof v === 'string' && /^\d{1,3}$/.test(v.trim()))) {
      const named = names[Number(v)];
      if (named !== undefined) return named;
    } else if (typeof v === 'string') {
      const named = names.find((n) => n.toLowerCase() === v.trim().toLowerCase());
      if (named !== undefined) return named;
    }
    return this.fail(path, `The value '${shown(v)}' is not valid for ${lastName(path)}.`);
  }

  list(v: Tree | undefined, path: string): Tree[] {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    if (typeof v === 'string') return [v];
    this.fail(path, `The value at ${path} must be a list.`);
    return [];
  }
}

function lastName(path: string): string {
  return (
    path
      .split('.')
      .pop()
      ?.replace(/\[\d+\]$/, '') ?? path
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Recipients

const ORG_RECIPIENT = /^(?:urn:altinn:organization:identifier-no:|0192:)(\d{9})$/i;
const PERSON_RECIPIENT = /^(?:urn:altinn:person:identifier-no:)?(\d{11})$/i;
const EMAIL_RECIPIENT = /^urn:altinn:person:idporten-email:[^@\s]+@[^@\s]+\.[^@\s]+$/i;
const SELF_IDENTIFIED_RECIPIENT = /^urn:altinn:person:legacy-selfidentified:\S+$/i;

/** Mod-11 check of both control digits of a Norwegian national identity number. */
export function isValidNationalIdentityNumber(ssn: string): boolean {
  if (!/^\d{11}$/.test(ssn)) return false;
  const d = [...ssn].map(Number);
  const control = (weights: number[]) => {
    const sum = weights.reduce((acc, w, i) => acc + w * d[i]!, 0);
    const r = 11 - (sum % 11);
    return r === 11 ? 0 : r;
  };
  const k1 = control([3, 7, 6, 1, 8, 9, 4, 5, 2]);
  const k2 = control([5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
  return k1 !== 10 && k2 !== 10 && k1 === d[9] && k2 === d[10];
}

/** The URN Altinn stores and answers with, or null when the recipient has no accepted form. */
export function normaliseRecipient(raw: string): string | null {
  const value = raw.trim();
  const org = ORG_RECIPIENT.exec(value);
  if (org) return `urn:altinn:organization:identifier-no:${org[1]}`;
  const person = PERSON_RECIPIENT.exec(value);
  if (person)
    return isValidNationalIdentityNumber(person[1]!) ? `urn:altinn:person:identifier-no:${person[1]}` : null;
  if (EMAIL_RECIPIENT.test(value) || SELF_IDENTIFIED_RECIPIENT.test(value)) return value.toLowerCase();
  return null;
}

/** The organisation number of an organisation recipient URN, else null. */
export function orgnrOf(recipientUrn: string): string | null {
  return ORG_RECIPIENT.exec(recipientUrn)?.[1] ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// Attribute (model-binding) checks

const GUID = /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i;
const EMPTY_GUID = /^[{(]?0{8}-?0{4}-?0{4}-?0{4}-?0{12}[)}]?$/;
const RESOURCE_ID = /^(?:urn:altinn:resource:)?[^:]{1,255}$/;

function readNotification(r: Reader, t: TreeObject | undefined): NotificationRequest | undefined {
  if (!t) return undefined;
  const p = 'Correspondence.Notification';
  const text = (key: string, field: string, max: number) =>
    r.length(r.str(t[key.toLowerCase()], `${p}.${field}`), `${p}.${field}`, field, 0, max);
  const channel = r.enumOf(t.notificationchannel, `${p}.NotificationChannel`, NOTIFICATION_CHANNELS);
  if (channel === undefined && (t.notificationchannel === undefined || t.notificationchannel === '')) {
    r.fail(`${p}.NotificationChannel`, 'The NotificationChannel field is required.');
  }
  const n: NotificationRequest = {
    notificationTemplate:
      r.enumOf(t.notificationtemplate, `${p}.NotificationTemplate`, NOTIFICATION_TEMPLATES) ??
      'CustomMessage',
    notificationChannel: channel ?? 'Email',
    emailContentType: r.enumOf(t.emailcontenttype, `${p}.EmailContentType`, CONTENT_TYPES) ?? 'Plain',
    reminderEmailContentType:
      r.enumOf(t.reminderemailcontenttype, `${p}.ReminderEmailContentType`, CONTENT_TYPES) ?? 'Plain',
    sendReminder: r.bool(t.sendreminder, `${p}.SendReminder`) ?? false,
  };
  const reminderChannel = r.enumOf(
    t.remindernotificationchannel,
    `${p}.ReminderNotificationChannel`,
    NOTIFICATION_CHANNELS,
  );
  if (reminderChannel) n.reminderNotificationChannel = reminderChannel;
  const texts: [keyof NotificationRequest, string, number][] = [
    ['emailSubject', 'EmailSubject', 512],
    ['emailBody', 'EmailBody', 10_000],
    ['smsBody', 'SmsBody', 2144],
    ['reminderEmailSubject', 'ReminderEmailSubject', 512],
    ['reminderEmailBody', 'ReminderEmailBody', 10_000],
    ['reminderSmsBody', 'ReminderSmsBody', 2144],
    ['sendersReference', 'SendersReference', 4096],
  ];
  for (const [key, field, max] of texts) {
    const v = text(key, field, max);
    if (v !== undefined) (n as unknown as Record<string, unknown>)[key] = v;
  }
  return n;
}

function readAttachment(r: Reader, v: Tree, i: number): AttachmentMetadata {
  const p = `Correspondence.Content.Attachments[${i}]`;
  const t = r.obj(v, p) ?? {};
  const a: AttachmentMetadata = {
    isEncrypted: r.bool(t.isencrypted, `${p}.IsEncrypted`) ?? false,
    sendersReference:
      r.length(
        r.required(
          r.str(t.sendersreference, `${p}.SendersReference`),
          `${p}.SendersReference`,
          'SendersReference',
        ),
        `${p}.SendersReference`,
        'SendersReference',
        1,
        4096,
      ) ?? '',
    dataLocationType:
      r.enumOf(t.datalocationtype, `${p}.DataLocationType`, DATA_LOCATION_TYPES) ??
      'NewCorrespondenceAttachment',
  };
  const fileName = r.length(r.str(t.filename, `${p}.FileName`), `${p}.FileName`, 'FileName', 0, 255);
  if (fileName !== undefined) a.fileName = fileName;
  const displayName = r.length(
    r.str(t.displayname, `${p}.DisplayName`),
    `${p}.DisplayName`,
    'DisplayName',
    0,
    255,
  );
  if (displayName !== undefined) a.displayName = displayName;
  const checksum = r.str(t.checksum, `${p}.Checksum`);
  if (checksum !== undefined && checksum !== '') a.checksum = checksum;
  const expiration = r.int(t.expirationindays, `${p}.ExpirationInDays`);
  if (expiration !== undefined) a.expirationInDays = expiration;
  return a;
}

/** Attribute checks: every problem found is collected and thrown as one STD-00000 problem. */
export function readCorrespondenceRequest(tree: TreeObject): CorrespondenceRequest {
  const r = new Reader();
  const c = r.obj(tree.correspondence, 'Correspondence');
  if (!c) r.fail('Correspondence', 'The Correspondence field is required.');
  const cc = c ?? {};

  const rawRecipients = r
    .list(tree.recipients, 'Recipients')
    .map((v, i) => r.str(v, `Recipients[${i}]`) ?? '');
  const recipients: string[] = [];
  if (rawRecipients.length === 0) r.fail('Recipients', 'The Recipients field is required.');
  else if (rawRecipients.length > 500) r.fail('Recipients', 'Recipients can contain at most 500 recipients');
  else {
    for (const raw of rawRecipients) {
      const urn = normaliseRecipient(raw);
      if (urn) recipients.push(urn);
      else {
        r.fail(
          'Recipients',
          `Recipient '${raw}' is neither an organisation (urn:altinn:organization:identifier-no:<9 digits> or 0192:<9 digits>) nor a person (11-digit national identity number with valid check digits, idporten-email or legacy-selfidentified URN)`,
        );
      }
    }
  }

  const idempotentKey = r.str(tree.idempotentkey, 'IdempotentKey');
  if (idempotentKey !== undefined && idempotentKey !== '' && !GUID.test(idempotentKey.trim())) {
    r.fail('IdempotentKey', `The value '${idempotentKey}' is not valid for IdempotentKey.`);
  }
  const existingAttachments = r
    .list(tree.existingattachments, 'ExistingAttachments')
    .map((v, i) => r.str(v, `ExistingAttachments[${i}]`) ?? '');
  existingAttachments.forEach((v, i) => {
    if (!GUID.test(v.trim())) r.fail(`ExistingAttachments[${i}]`, `The value '${v}' is not valid.`);
  });

  const p = 'Correspondence';
  const resourceId = r.length(
    r.required(r.str(cc.resourceid, `${p}.ResourceId`), `${p}.ResourceId`, 'ResourceId'),
    `${p}.ResourceId`,
    'ResourceId',
    1,
    255,
  );
  if (resourceId !== undefined && !RESOURCE_ID.test(resourceId)) {
    r.fail(
      `${p}.ResourceId`,
      `The field ResourceId must match the regular expression '${RESOURCE_ID.source}'.`,
    );
  }
  const sendersReference = r.length(
    r.required(
      r.str(cc.sendersreference, `${p}.SendersReference`),
      `${p}.SendersReference`,
      'SendersReference',
    ),
    `${p}.SendersReference`,
    'SendersReference',
    1,
    4096,
  );
  const messageSender = r.length(
    r.str(cc.messagesender, `${p}.MessageSender`),
    `${p}.MessageSender`,
    'MessageSender',
    0,
    255,
  );

  const content = r.obj(cc.content, `${p}.Content`);
  if (c && !content) r.fail(`${p}.Content`, 'The Content field is required.');
  const ct = content ?? {};
  const cp = `${p}.Content`;
  const messageTitle = r.length(
    r.required(r.str(ct.messagetitle, `${cp}.MessageTitle`), `${cp}.MessageTitle`, 'MessageTitle'),
    `${cp}.MessageTitle`,
    'MessageTitle',
    1,
    255,
  );
  const messageBody = r.length(
    r.required(r.str(ct.messagebody, `${cp}.MessageBody`), `${cp}.MessageBody`, 'MessageBody'),
    `${cp}.MessageBody`,
    'MessageBody',
    1,
    30_000,
  );
  const messageSummary = r.length(
    r.str(ct.messagesummary, `${cp}.MessageSummary`),
    `${cp}.MessageSummary`,
    'MessageSummary',
    0,
    255,
  );
  const language = r.str(ct.language, `${cp}.Language`);
  const attachments = r.list(ct.attachments, `${cp}.Attachments`).map((v, i) => readAttachment(r, v, i));

  const propertyTree = r.obj(cc.propertylist, `${p}.PropertyList`) ?? {};
  const propertyList: Record<string, string> = {};
  const propertyEntries = Object.entries(propertyTree);
  if (propertyEntries.length > 10)
    r.fail(`${p}.PropertyList`, 'propertyList can contain at most 10 properties');
  for (const [k, v] of propertyEntries) {
    const value = r.str(v, `${p}.PropertyList.${k}`) ?? '';
    if (k.length > 50) r.fail(`${p}.PropertyList`, 'propertyList keys can be at most 50 characters');
    else if (value.length > 300)
      r.fail(`${p}.PropertyList`, 'propertyList values can be at most 300 characters');
    propertyList[k] = value;
  }

  const externalReferences = r.list(cc.externalreferences, `${p}.ExternalReferences`).map((v, i) => {
    const ep = `${p}.ExternalReferences[${i}]`;
    const t = r.obj(v, ep) ?? {};
    return {
      referenceValue:
        r.required(
          r.str(t.referencevalue, `${ep}.ReferenceValue`),
          `${ep}.ReferenceValue`,
          'ReferenceValue',
        ) ?? '',
      referenceType: r.enumOf(t.referencetype, `${ep}.ReferenceType`, REFERENCE_TYPES) ?? 'Generic',
    };
  });
  if (externalReferences.length > 10)
    r.fail(`${p}.ExternalReferences`, 'externalReferences can contain at most 10 references');

  const replyOptions = r.list(cc.replyoptions, `${p}.ReplyOptions`).map((v, i) => {
    const rp = `${p}.ReplyOptions[${i}]`;
    const t = r.obj(v, rp) ?? {};
    const linkText = r.str(t.linktext, `${rp}.LinkText`);
    return {
      linkURL: r.required(r.str(t.linkurl, `${rp}.LinkURL`), `${rp}.LinkURL`, 'LinkURL') ?? '',
      ...(linkText !== undefined && { linkText }),
    };
  });

  const notification = readNotification(r, r.obj(cc.notification, `${p}.Notification`));
  const requestedPublishTime = r.date(cc.requestedpublishtime, `${p}.RequestedPublishTime`);
  const dueDateTime = r.date(cc.duedatetime, `${p}.DueDateTime`);
  const ignoreReservation = r.bool(cc.ignorereservation, `${p}.IgnoreReservation`);
  const isConfirmationNeeded = r.bool(cc.isconfirmationneeded, `${p}.IsConfirmationNeeded`) ?? false;
  const isConfidential = r.bool(cc.isconfidential, `${p}.IsConfidential`) ?? false;
  const allowForwarding = r.bool(cc.allowforwarding, `${p}.AllowForwarding`) ?? false;

  if (r.errors.length > 0) throw AltinnProblem.model(r.errors);

  return {
    recipients,
    ...(idempotentKey !== undefined && idempotentKey !== '' && { idempotentKey: idempotentKey.trim() }),
    existingAttachments,
    correspondence: {
      resourceId: (resourceId ?? '').replace(/^urn:altinn:resource:/, ''),
      sendersReference: sendersReference ?? '',
      ...(messageSender !== undefined && { messageSender }),
      ...(requestedPublishTime && { requestedPublishTime }),
      ...(dueDateTime && { dueDateTime }),
      externalReferences,
      propertyList,
      replyOptions,
      ...(notification && { notification }),
      ...(ignoreReservation !== undefined && { ignoreReservation }),
      isConfirmationNeeded,
      isConfidential,
      allowForwarding,
      content: {
        language: language === undefined || language.trim() === '' ? 'nb' : language.trim(),
        messageTitle: messageTitle ?? '',
        ...(messageSummary !== undefined && { messageSummary }),
        messageBody: messageBody ?? '',
        attachments,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Business rules (the handler's checks, after the idempotency look-up)

export interface UploadedFile {
  filename: string;
  size: number;
  truncated: boolean;
}

export interface BusinessContext {
  now: Date;
  resourceConfidential: boolean | undefined /* undefined: unknown resource */;
  /** The file parts of a multipart upload; undefined for the JSON endpoint. */
  files?: UploadedFile[];
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const INVALID_FILENAME_CHARS = /[<>:"/\\|?*\u0000-\u001f]/;

function notificationTextRule(n: NotificationRequest): void {
  if (n.notificationTemplate !== 'CustomMessage') return;
  const has = (s: string | undefined) => s !== undefined && s.trim() !== '';
  const check = (
    channel: NotificationChannel,
    subject: string | undefined,
    body: string | undefined,
    sms: string | undefined,
    reminder: boolean,
  ) => {
    const email = has(subject) && has(body);
    if (channel === 'Email' && !email)
      throw AltinnProblem.of(reminder ? E.missingEmailReminderContent : E.missingEmailContent);
    if (channel === 'Sms' && !has(sms))
      throw AltinnProblem.of(reminder ? E.missingSmsReminderContent : E.missingSmsContent);
    if ((channel === 'EmailPreferred' || channel === 'SmsPreferred') && !(email && has(sms))) {
      throw AltinnProblem.of(reminder ? E.missingPreferredReminderContent : E.missingPreferredContent);
    }
    if (channel === 'EmailAndSms' && !(email && has(sms))) {
      throw AltinnProblem.of(reminder ? E.missingEmailAndSmsReminderContent : E.missingEmailAndSmsContent);
    }
  };
  check(n.notificationChannel, n.emailSubject, n.emailBody, n.smsBody, false);
  if (n.sendReminder) {
    check(
      n.reminderNotificationChannel ?? n.notificationChannel,
      n.reminderEmailSubject,
      n.reminderEmailBody,
      n.reminderSmsBody,
      true,
    );
  }
}

/** Checks the handler makes once the request has bound; throws the first failing rule's CORR problem. */
export function checkBusinessRules(req: CorrespondenceRequest, ctx: BusinessContext): void {
  const c = req.correspondence;
  if (ctx.resourceConfidential === undefined) throw AltinnProblem.of(E.unknownResource);
  if (ctx.resourceConfidential && !c.isConfidential) throw AltinnProblem.of(E.confidentialResourceNotFlagged);
  if (!ctx.resourceConfidential && c.isConfidential)
    throw AltinnProblem.of(E.flaggedButResourceNotConfidential);
  if (req.idempotentKey !== undefined) {
    if (EMPTY_GUID.test(req.idempotentKey)) throw AltinnProblem.of(E.idempotentKeyInvalid);
    if (req.recipients.length > 1) throw AltinnProblem.of(E.idempotentKeyWithManyRecipients);
  }
  if (new Set(req.recipients).size !== req.recipients.length) throw AltinnProblem.of(E.duplicateRecipients);

  const content = c.content;
  if (content.messageTitle.trim() === '') throw AltinnProblem.of(E.titleEmpty);
  if (content.messageTitle.length > 255) throw AltinnProblem.of(E.titleTooLong);
  if (!['nb', 'nn', 'en'].includes(content.language)) throw AltinnProblem.of(E.language);
  if (content.messageBody.trim() === '') throw AltinnProblem.of(E.bodyEmpty);
  if (content.messageBody.length > 30_000) throw AltinnProblem.of(E.bodyTooLong);
  if ((content.messageSummary?.length ?? 0) > 255) throw AltinnProblem.of(E.summaryTooLong);

  if (c.dueDateTime) {
    if (c.dueDateTime.getTime() < ctx.now.getTime()) throw AltinnProblem.of(E.dueDateBeforeNow);
    if (c.requestedPublishTime && c.dueDateTime.getTime() < c.requestedPublishTime.getTime()) {
      throw AltinnProblem.of(E.dueDateBeforePublish);
    }
  } else if (c.isConfirmationNeeded) {
    throw AltinnProblem.of(E.dueDateRequired);
  }
  for (const o of c.replyOptions) {
    if (o.linkURL.length > 255 || !/^https:\/\/[^\s/]+/i.test(o.linkURL))
      throw AltinnProblem.of(E.replyOptions);
  }

  if (content.attachments.length + req.existingAttachments.length > 100) {
    throw AltinnProblem.of(E.tooManyAttachments);
  }
  // The sandbox keeps no attachment store of its own: a reference to an existing attachment cannot be resolved.
  if (req.existingAttachments.length > 0) throw AltinnProblem.of(E.existingAttachmentNotFound);

  const newAttachments = content.attachments.filter(
    (a) => a.dataLocationType === 'NewCorrespondenceAttachment',
  );
  for (const a of newAttachments) {
    if (ctx.files !== undefined && (a.fileName === undefined || a.fileName.trim() === '')) {
      throw AltinnProblem.of(E.filenameMissing);
    }
    if (a.fileName === undefined || a.fileName === '') continue;
    if (a.fileName.length > 255) throw AltinnProblem.of(E.filenameTooLong);
    if (
      INVALID_FILENAME_CHARS.test(a.fileName) ||
      WINDOWS_RESERVED.test(a.fileName) ||
      /[. ]$/.test(a.fileName)
    ) {
      throw AltinnProblem.of(E.filenameInvalid);
    }
    const dot = a.fileName.lastIndexOf('.');
    if (dot < 0 || !ALLOWED_EXTENSIONS.has(a.fileName.slice(dot).toLowerCase())) {
      throw AltinnProblem.of(E.filetypeNotAllowed);
    }
  }
  if (ctx.files !== undefined) {
    if (ctx.files.length !== newAttachments.length) throw AltinnProblem.of(E.filesMismatch);
    for (const f of ctx.files) if (f.size === 0 || f.truncated) throw AltinnProblem.of(E.fileSize);
  }

  if (c.notification) notificationTextRule(c.notification);
}

/**
 * Pairs file part i with metadata entry i when the names agree, else with the one entry of the same name.
 * Returns, per new-attachment entry, the index of its file part; null when the parts cannot be matched.
 */
export function matchFiles(metadata: AttachmentMetadata[], files: UploadedFile[]): number[] | null {
  const used = new Set<number>();
  const result: number[] = [];
  for (let i = 0; i < metadata.length; i++) {
    const name = metadata[i]!.fileName;
    let pick = files[i]?.filename === name && !used.has(i) ? i : -1;
    if (pick < 0) {
      const candidates = files
        .map((f, j) => (f.filename === name && !used.has(j) ? j : -1))
        .filter((j) => j >= 0);
      if (candidates.length !== 1) return null;
      pick = candidates[0]!;
    }
    used.add(pick);
    result.push(pick);
  }
  return result;
}
