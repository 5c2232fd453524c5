/**
 * What an Altinn correspondence's state means for our statuses. Decided from the timestamps (published, read),
 * not the "highest" status field, which moves on to Confirmed or AttachmentsDownloaded after a read. Pure.
 */
import type { ProblemItem } from './errors.js';
import type { Status } from './status.js';

export interface OverviewFacts {
  status?: string | null;
  statusText?: string | null;
  published?: Date | null;
  read?: Date | null;
}

export interface StatusStep {
  status: Status;
  description?: string;
}

export interface PollVerdict {
  /** Statuses to register, in order. */
  steps: StatusStep[];
  /** Stop polling this correspondence. */
  stop: boolean;
  /** An Altinn status we do not know; logged, otherwise ignored. */
  unknownStatus?: string;
}

/** Altinn's correspondence statuses in its enum order (the sandbox Altinn uses the same list). */
export const CORRESPONDENCE_STATUSES = [
  'Initialized',
  'ReadyForPublish',
  'Published',
  'Fetched',
  'Read',
  'Replied',
  'Confirmed',
  'PurgedByRecipient',
  'PurgedByAltinn',
  'Archived',
  'Reserved',
  'Failed',
  'AttachmentsDownloaded',
  'Forwarded',
] as const;
export type CorrespondenceStatus = (typeof CORRESPONDENCE_STATUSES)[number];

const KNOWN: ReadonlySet<string> = new Set(CORRESPONDENCE_STATUSES);

export const GONE_DESCRIPTION = 'Meldingen er slettet i Altinn. Statusen følges ikke lenger.';
export const PURGED_BY_RECIPIENT_DESCRIPTION =
  'Mottakeren har slettet meldingen i Altinn. Statusen følges ikke lenger.';
export const PURGED_BY_ALTINN_DESCRIPTION = 'Meldingen er slettet av Altinn. Statusen følges ikke lenger.';

/** Altinn's publish failure when nobody at an organisation may read confidential post (spec §3.2). */
const LACKS_ROLES = /lacks roles required to read correspondence/i;

export const LACKS_ROLES_DESCRIPTION =
  'Altinn kunne ikke levere den taushetsbelagte meldingen: ingen hos mottakeren har rollene som trengs for å åpne ' +
  'taushetsbelagt post i Altinn, så ingen der kan åpne den. Meldingen er ikke levert og mottakeren er ikke varslet. ' +
  'Send den som fysisk post (brev) i stedet.';

/** The FEIL description for an Altinn `Failed`: plain Norwegian for what we recognise, Altinn's own text otherwise. */
export function failedDescription(statusText: string | null | undefined): string {
  if (statusText && LACKS_ROLES.test(statusText)) return `${LACKS_ROLES_DESCRIPTION} (Altinn: ${statusText})`;
  return `Altinn kunne ikke levere meldingen${statusText ? `: ${statusText}` : '.'}`;
}

export function pollVerdict(o: OverviewFacts | null): PollVerdict {
  if (o === null) return { steps: [{ status: 'ANNET', description: GONE_DESCRIPTION }], stop: true };
  const steps: StatusStep[] = [];
  if (o.published) steps.push({ status: 'LEVERT' });
  if (o.read) steps.push({ status: 'LEST' });
  const status = o.status ?? '';
  if (status === 'Failed') {
    steps.push({ status: 'FEIL', description: failedDescription(o.statusText) });
    return { steps, stop: true };
  }
  if (status === 'PurgedByRecipient' || status === 'PurgedByAltinn') {
    steps.push({
      status: 'ANNET',
      description:
        status === 'PurgedByRecipient' ? PURGED_BY_RECIPIENT_DESCRIPTION : PURGED_BY_ALTINN_DESCRIPTION,
    });
    return { steps, stop: true };
  }
  const verdict: PollVerdict = { steps, stop: Boolean(o.read) };
  if (status && !KNOWN.has(status)) verdict.unknownStatus = status;
  return verdict;
}

/**
 * The poll interval for a conversation of this age: from `base` at age 0, growing linearly to `max` at `rampMs`
 * (as the reference backs off from one minute to an hour over 30 days).
 */
export function pollInterval(ageMs: number, base: number, max: number, rampMs: number): number {
  if (max <= base || rampMs <= 0) return base;
  const share = Math.min(1, Math.max(0, ageMs) / rampMs);
  return Math.round(base + (max - base) * share);
}

// ---- notification outcome (from /details) ----

export interface NotificationEntry {
  isReminder?: boolean | null;
  processingStatus?: { status?: string | null; description?: string | null } | null;
  notificationStatusDetails?: {
    email?: { succeeded?: boolean | null; sendStatus?: { status?: string | null } | null } | null;
    sms?: { succeeded?: boolean | null; sendStatus?: { status?: string | null } | null } | null;
    emails?: { succeeded?: boolean | null; sendStatus?: { status?: string | null } | null }[] | null;
    smses?: { succeeded?: boolean | null; sendStatus?: { status?: string | null } | null }[] | null;
  } | null;
}

export type NotificationOutcome = 'notified' | 'failed' | 'no-contact' | 'pending' | 'none';

export interface NotificationReport {
  outcome: NotificationOutcome;
  /** Plain Norwegian for the conversation. */
  text: string;
  /** A warning when nobody was notified. */
  warning?: ProblemItem;
}

const NO_CONTACT = /missingcontact|notidentified|nocontact|reserved/i;
const PENDING = /^(new|sending|registered|processing|accepted|succeeded_pending)$/i;

/** Whether anybody got the (reminder) notification, from the details' notification entries. */
export function notificationReport(entries: NotificationEntry[], reminder: boolean): NotificationReport {
  const which = reminder ? 'Påminnelsen' : 'Varselet';
  const mine = entries.filter((e) => Boolean(e.isReminder) === reminder);
  const sends = mine.flatMap((e) => {
    const d = e.notificationStatusDetails;
    return [d?.email, d?.sms, ...(d?.emails ?? []), ...(d?.smses ?? [])].filter((x) => x != null);
  });
  const emailOk = mine.some((e) => {
    const d = e.notificationStatusDetails;
    return [d?.email, ...(d?.emails ?? [])].some((x) => x?.succeeded);
  });
  const smsOk = mine.some((e) => {
    const d = e.notificationStatusDetails;
    return [d?.sms, ...(d?.smses ?? [])].some((x) => x?.succeeded);
  });
  if (emailOk || smsOk) {
    const how = emailOk && smsOk ? 'e-post og SMS' : emailOk ? 'e-post' : 'SMS';
    return { outcome: 'notified', text: `${which} om meldingen er sendt til mottakeren på ${how}.` };
  }
  const statuses = [
    ...mine.map((e) => e.processingStatus?.status ?? ''),
    ...sends.map((s) => s.sendStatus?.status ?? ''),
  ].filter(Boolean);
  if (mine.length === 0) {
    return {
      outcome: 'none',
      text: `Altinn har ikke opprettet noe ${reminder ? 'påminnelsesvarsel' : 'varsel'} om meldingen.`,
      warning: {
        code: 'NotificationNotSent',
        message: reminder
          ? 'Altinn has no reminder notification for this message: nobody at the receiver has been reminded that it is unread.'
          : 'Altinn has no notification for this message: nobody at the receiver has been told it arrived.',
      },
    };
  }
  if (statuses.some((s) => PENDING.test(s)) && !sends.some((s) => s.succeeded === false)) {
    return { outcome: 'pending', text: `${which} om meldingen er ikke sendt ennå.` };
  }
  if (statuses.some((s) => NO_CONTACT.test(s))) {
    return {
      outcome: 'no-contact',
      text: `${which} om meldingen ble ikke sendt: mottakeren har ingen kontaktinformasjon (e-post eller mobilnummer) registrert i Altinn.`,
      warning: {
        code: 'NotificationNoContactInformation',
        message: `Nobody was notified of this message${reminder ? ' (reminder)' : ''}: the receiver has no e-mail address or mobile number registered in Altinn. Tell them another way.`,
      },
    };
  }
  return {
    outcome: 'failed',
    text: `${which} om meldingen kunne ikke leveres på e-post eller SMS.`,
    warning: {
      code: 'NotificationFailed',
      message: `Nobody was notified of this message${reminder ? ' (reminder)' : ''}: Altinn could not deliver the e-mail or SMS notification. Tell the receiver another way.`,
    },
  };
}
