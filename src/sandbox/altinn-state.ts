import { randomBytes, randomUUID } from 'node:crypto';
import { CORRESPONDENCE_STATUSES, type CorrespondenceStatus } from '../domain/correspondence-status.js';
import type { CorrespondenceRequest, NotificationChannel, NotificationRequest } from './altinn-validation.js';

// The current status is the highest one in CORRESPONDENCE_STATUSES' order that is not Fetched.
export { CORRESPONDENCE_STATUSES, type CorrespondenceStatus };

export interface StatusEntry {
  status: CorrespondenceStatus;
  statusText: string;
  statusChanged: string;
}

/** What Altinn Notifications managed for one channel of a party: sent, failed, or no contact information. */
export type NotificationOutcome = 'sent' | 'failed' | 'no-contact';

export interface SandboxParty {
  orgnr: string;
  name: string;
  hasConfidentialRoles: boolean;
  /** Per channel; a channel left out means the party has no contact information for it. */
  notification?: { email?: NotificationOutcome; sms?: NotificationOutcome };
}

export interface SandboxAttachment {
  id: string;
  fileName: string;
  displayName?: string;
  sendersReference: string;
  isEncrypted: boolean;
  contentType: string;
  size: number;
  sha256: string;
}

export interface SandboxNotification {
  orderId: string;
  created: string;
  channel: NotificationChannel;
  isReminder: boolean;
  email?: { outcome: NotificationOutcome; id: string; address?: string };
  sms?: { outcome: NotificationOutcome; id: string; mobileNumber?: string };
}

export interface SandboxCorrespondence {
  correspondenceId: string;
  recipient: string;
  resourceId: string;
  sendersReference: string;
  idempotentKey?: string;
  isConfidential: boolean;
  created: string;
  requestedPublishTime: string;
  /** Derived: highest non-Fetched status, its text and time. */
  status: CorrespondenceStatus;
  statusText: string;
  statusChanged: string;
  statusHistory: StatusEntry[];
  published: string | null;
  read: string | null;
  purged: boolean;
  attachments: SandboxAttachment[];
  notifications: SandboxNotification[];
  dialogId: string | null;
  request: CorrespondenceRequest;
}

/** Time-ordered ids shaped like UUIDv7, as Altinn issues. */
export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const STATUS_TEXTS: Partial<Record<CorrespondenceStatus, string>> = {
  Initialized: 'Initialized',
  ReadyForPublish: 'ReadyForPublish',
  Published: 'Published',
  Fetched: 'Fetched',
  Read: 'Read',
  PurgedByRecipient: 'PurgedByRecipient',
  PurgedByAltinn: 'PurgedByAltinn',
};

export class CorrespondenceRecord {
  readonly history: StatusEntry[] = [];
  readonly notifications: SandboxNotification[] = [];
  dialogId: string | null = null;
  publishTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly recipient: string,
    readonly request: CorrespondenceRequest,
    readonly attachments: SandboxAttachment[],
    readonly created: Date,
  ) {}

  add(status: CorrespondenceStatus, at: Date, statusText?: string): void {
    this.history.push({
      status,
      statusText: statusText ?? STATUS_TEXTS[status] ?? status,
      statusChanged: at.toISOString(),
    });
  }

  has(status: CorrespondenceStatus): boolean {
    return this.history.some((h) => h.status === status);
  }

  /** The highest status that is not Fetched (Altinn's rule), the latest entry of it. */
  current(): StatusEntry {
    let best: StatusEntry | undefined;
    for (const h of this.history) {
      if (h.status === 'Fetched') continue;
      if (!best || CORRESPONDENCE_STATUSES.indexOf(h.status) >= CORRESPONDENCE_STATUSES.indexOf(best.status))
        best = h;
    }
    return best ?? (this.history[0] as StatusEntry);
  }

  firstAt(status: CorrespondenceStatus): string | null {
    return this.history.find((h) => h.status === status)?.statusChanged ?? null;
  }

  purged(): boolean {
    return this.has('PurgedByRecipient') || this.has('PurgedByAltinn');
  }

  requestedPublishTime(): Date {
    return this.request.correspondence.requestedPublishTime ?? this.created;
  }

  snapshot(): SandboxCorrespondence {
    const cur = this.current();
    const c = this.request.correspondence;
    return {
      correspondenceId: this.id,
      recipient: this.recipient,
      resourceId: c.resourceId,
      sendersReference: c.sendersReference,
      ...(this.request.idempotentKey !== undefined && { idempotentKey: this.request.idempotentKey }),
      isConfidential: c.isConfidential,
      created: this.created.toISOString(),
      requestedPublishTime: this.requestedPublishTime().toISOString(),
      status: cur.status,
      statusText: cur.statusText,
      statusChanged: cur.statusChanged,
      statusHistory: this.history.map((h) => ({ ...h })),
      published: this.firstAt('Published'),
      read: this.firstAt('Read'),
      purged: this.purged(),
      attachments: this.attachments.map((a) => ({ ...a })),
      notifications: this.notifications.map((n) => ({ ...n })),
      dialogId: this.dialogId,
      request: this.request,
    };
  }
}

/** Which channels a notification order uses for a party, given what contact information it has. */
function channelsFor(
  channel: NotificationChannel,
  party: SandboxParty | undefined,
): { email: boolean; sms: boolean } {
  const email = party?.notification?.email;
  const sms = party?.notification?.sms;
  switch (channel) {
    case 'Email':
      return { email: true, sms: false };
    case 'Sms':
      return { email: false, sms: true };
    case 'EmailAndSms':
      return { email: true, sms: true };
    case 'EmailPreferred':
      return email !== undefined || sms === undefined
        ? { email: true, sms: false }
        : { email: false, sms: true };
    case 'SmsPreferred':
      return sms !== undefined || email === undefined
        ? { email: false, sms: true }
        : { email: true, sms: false };
  }
}

/** The notification order Altinn creates at publish, with the outcome seeded for the party. */
export function notificationAtPublish(
  n: NotificationRequest,
  party: SandboxParty | undefined,
  at: Date,
): SandboxNotification {
  const uses = channelsFor(n.notificationChannel, party);
  const orgLabel = party?.orgnr ?? 'recipient';
  return {
    orderId: randomUUID(),
    created: at.toISOString(),
    channel: n.notificationChannel,
    isReminder: false,
    ...(uses.email && {
      email: {
        outcome: party?.notification?.email ?? 'no-contact',
        id: randomUUID(),
        ...(party?.notification?.email !== undefined && { address: `post@${orgLabel}.sandbox.invalid` }),
      },
    }),
    ...(uses.sms && {
      sms: {
        outcome: party?.notification?.sms ?? 'no-contact',
        id: randomUUID(),
        ...(party?.notification?.sms !== undefined && { mobileNumber: '+4799999999' }),
      },
    }),
  };
}

const EMAIL_STATUS: Record<NotificationOutcome, [string, string]> = {
  sent: ['Delivered', 'The email was delivered to the recipient.'],
  failed: ['Failed', 'The email was not sent due to an unspecified failure.'],
  'no-contact': [
    'Failed_RecipientNotIdentified',
    'The email was not sent: no email address was found for the recipient.',
  ],
};
const SMS_STATUS: Record<NotificationOutcome, [string, string]> = {
  sent: ['Delivered', 'The SMS was delivered to the recipient.'],
  failed: ['Failed', 'The SMS was not sent due to an unspecified failure.'],
  'no-contact': [
    'Failed_RecipientNotIdentified',
    'The SMS was not sent: no mobile number was found for the recipient.',
  ],
};

/** NotificationExt as the details endpoint shows it. */
export function notificationDetails(
  n: SandboxNotification,
  rec: CorrespondenceRecord,
): Record<string, unknown> {
  const orgnr = /^urn:altinn:organization:identifier-no:(\d{9})$/.exec(rec.recipient)?.[1] ?? null;
  const ssn = /^urn:altinn:person:identifier-no:(\d{11})$/.exec(rec.recipient)?.[1] ?? null;
  const recipientBase = { organizationNumber: orgnr, nationalIdentityNumber: ssn, isReserved: false };
  const email = n.email && {
    id: n.email.id,
    succeeded: n.email.outcome === 'sent',
    recipient: { ...recipientBase, emailAddress: n.email.address ?? null, mobileNumber: null },
    sendStatus: {
      status: EMAIL_STATUS[n.email.outcome][0],
      description: EMAIL_STATUS[n.email.outcome][1],
      lastUpdate: n.created,
    },
  };
  const sms = n.sms && {
    id: n.sms.id,
    succeeded: n.sms.outcome === 'sent',
    recipient: { ...recipientBase, emailAddress: null, mobileNumber: n.sms.mobileNumber ?? null },
    sendStatus: {
      status: SMS_STATUS[n.sms.outcome][0],
      description: SMS_STATUS[n.sms.outcome][1],
      lastUpdate: n.created,
    },
  };
  const c = rec.request.correspondence;
  return {
    id: n.orderId,
    sendersReference: c.notification?.sendersReference ?? c.sendersReference,
    creator: 'altinn',
    created: n.created,
    isReminder: n.isReminder,
    notificationChannel: n.channel,
    ignoreReservation: c.ignoreReservation ?? null,
    resourceId: `urn:altinn:resource:${c.resourceId}`,
    processingStatus: {
      status: 'Completed',
      description: 'The notification order has been processed.',
      lastUpdate: n.created,
    },
    notificationStatusDetails: {
      email: email ?? null,
      sms: sms ?? null,
      emails: email ? [email] : [],
      smses: sms ? [sms] : [],
    },
  };
}

const STUB_CONTENT = {
  language: 'no',
  messageTitle: '',
  messageSummary: '',
  messageBody: '',
  attachments: [],
};

/** CorrespondenceOverviewExt (sender view): the real content only until publish. */
export function overviewJson(rec: CorrespondenceRecord): Record<string, unknown> {
  const c = rec.request.correspondence;
  const cur = rec.current();
  const published = rec.firstAt('Published');
  const externalReferences = [
    ...c.externalReferences,
    ...(rec.dialogId ? [{ referenceValue: rec.dialogId, referenceType: 'DialogportenDialogId' }] : []),
  ];
  const content = published
    ? STUB_CONTENT
    : {
        language: c.content.language,
        messageTitle: c.content.messageTitle,
        messageSummary: c.content.messageSummary ?? null,
        messageBody: c.content.messageBody,
        attachments: rec.attachments.map((a) => ({
          created: rec.created.toISOString(),
          dataLocationType: 'AltinnCorrespondenceAttachment',
          status: published ? 'Published' : 'Initialized',
          statusText: published ? 'Published' : 'Initialized',
          statusChanged: rec.created.toISOString(),
          expirationTime: null,
          id: a.id,
          fileName: a.fileName,
          displayName: a.displayName ?? null,
          isEncrypted: a.isEncrypted,
          checksum: null,
          sendersReference: a.sendersReference,
        })),
      };
  return {
    recipient: rec.recipient,
    correspondenceId: rec.id,
    content,
    created: rec.created.toISOString(),
    status: cur.status,
    statusText: cur.statusText,
    statusChanged: cur.statusChanged,
    notifications: rec.notifications.map((n) => ({
      notificationOrderId: n.orderId,
      isReminder: n.isReminder,
    })),
    altinn2CorrespondenceId: null,
    published,
    read: rec.firstAt('Read'),
    resourceId: c.resourceId,
    sender: `urn:altinn:organization:identifier-no:${SANDBOX_RESOURCE_OWNER}`,
    sendersReference: c.sendersReference,
    messageSender: c.messageSender ?? null,
    requestedPublishTime: rec.requestedPublishTime().toISOString(),
    dueDateTime: c.dueDateTime?.toISOString() ?? null,
    externalReferences,
    propertyList: c.propertyList,
    replyOptions: c.replyOptions,
    notification: null,
    ignoreReservation: c.ignoreReservation ?? null,
    isConfirmationNeeded: c.isConfirmationNeeded,
    isConfidential: c.isConfidential,
    allowForwarding: c.allowForwarding,
  };
}

/** CorrespondenceDetailsExt: overview plus statusHistory, notification outcomes and the system label. */
export function detailsJson(rec: CorrespondenceRecord): Record<string, unknown> {
  return {
    ...overviewJson(rec),
    statusHistory: rec.history.map((h) => ({ ...h })),
    notifications: rec.notifications.map((n) => notificationDetails(n, rec)),
    systemLabel: 'Sent',
  };
}

/** The organisation that owns the sandbox's resources (Digdir, as for the real eformidling-dpv-* resources). */
export const SANDBOX_RESOURCE_OWNER = '991825827';
