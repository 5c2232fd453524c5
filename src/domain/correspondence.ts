/**
 * What we send to Altinn for one message: the correspondence's form fields (dotted names, as the multipart
 * upload binds them), which files go along, and the rules for the notification text. Pure: no I/O.
 */
import type { ArkivmeldingSummary } from './arkivmelding/index.js';
import type { ProblemItem } from './errors.js';

export type NotificationChannel = 'Email' | 'Sms' | 'EmailAndSms';

export interface DpvSettings {
  varselType?: 'VarselDPVMedRevarsel' | 'VarselDPVUtenRevarsel';
  varselTransportType?: 'Epost' | 'SMS' | 'EpostOgSMS';
  varselTekst?: string;
  taushetsbelagtVarselTekst?: string;
  dagerTilSvarfrist?: number;
}

export interface CorrespondenceFile {
  filename: string;
  title: string;
  mimeType: string;
}

export interface CorrespondenceInput {
  messageId: string;
  process: string;
  /** The receiver: 9-digit organisation number or 11-digit person id. */
  receiver: string;
  /** The organisation we send for (the on-behalf-of party when there is one). */
  senderOrgnr: string;
  /** Its name from the address service's /info record. */
  senderName: string;
  /** The service record's Altinn resource id. */
  resource: string;
  summary: Pick<ArkivmeldingSummary, 'publicTitle' | 'referencedFiles'>;
  /** The journalpost's (non-public) tittel, read from the stored arkivmelding.xml. */
  confidentialTitle: string | null;
  dpv: DpvSettings;
  files: CorrespondenceFile[];
  now: Date;
}

export interface CorrespondenceSettings {
  confidentialResource: string;
  taushetsbelagtProcess: string;
  /** Default days to reply when dagerTilSvarfrist is absent; 0 = no due date. */
  daysToReply: number;
  channel: NotificationChannel;
  emailSubject: string;
}

export type CorrespondencePlan =
  | {
      ok: true;
      fields: [string, string][];
      /** The files to upload, in the order the fields list them. */
      files: CorrespondenceFile[];
      confidential: boolean;
      warnings: ProblemItem[];
    }
  | { ok: false; reason: string };

/** Altinn's limits (spec: messageTitle/messageSummary 255, messageBody 30 000, smsBody 2 144, emailBody 10 000). */
export const LIMITS = { title: 255, summary: 255, body: 30_000, sms: 2144, email: 10_000 } as const;

const CHANNELS: Record<NonNullable<DpvSettings['varselTransportType']>, NotificationChannel> = {
  Epost: 'Email',
  SMS: 'Sms',
  EpostOgSMS: 'EmailAndSms',
};

/** The access package Altinn requires for confidential post, as the Altinn inbox names it. */
export const CONFIDENTIAL_ACCESS_PACKAGE = 'Post til virksomheten med taushetsbelagt innhold';

/** Our default notification for confidential post: says what arrived, from whom, and what access is needed to read it. */
export function defaultConfidentialText(resource: string): string {
  return (
    '$correspondenceRecipientName$ har fått taushetsbelagt post fra $reporterName$ i Altinn. ' +
    `Meldingen kan bare åpnes av personer som har fått tilgang til tjenesten «${resource}» ` +
    `(tilgangspakken «${CONFIDENTIAL_ACCESS_PACKAGE}») i Altinn. ` +
    'Sjekk nå at minst én person hos dere har denne tilgangen. Har ingen den, blir meldingen liggende uåpnet. ' +
    'Tilgangen gis av virksomhetens hovedadministrator i Altinn.'
  );
}

export const DEFAULT_ORDINARY_TEXT =
  '$correspondenceRecipientName$: Du har fått en melding fra $reporterName$ i Altinn.';

/** Whether a sender's own confidential text tells the receiver what access is needed (names the resource or the package). */
export function mentionsRequiredAccess(text: string, resource: string): boolean {
  const t = text.toLowerCase();
  return t.includes(resource.toLowerCase()) || t.includes(CONFIDENTIAL_ACCESS_PACKAGE.toLowerCase());
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** messageBody is markdown and Altinn refuses HTML: angle brackets are escaped so a title reads as text. */
function markdownText(text: string): string {
  return text.replace(/[\\<>]/g, (c) => `\\${c}`);
}

export function recipientUrn(receiver: string): string {
  return /^\d{11}$/.test(receiver)
    ? `urn:altinn:person:identifier-no:${receiver}`
    : `urn:altinn:organization:identifier-no:${receiver}`;
}

export interface NotificationPlan {
  channel: NotificationChannel;
  text: string;
  reminder: boolean;
  warnings: ProblemItem[];
}

/** The notification text rules: the sender's text or ours, $reporterName$ filled in, $correspondenceRecipientName$ left for Altinn. */
export function notificationPlan(
  dpv: DpvSettings,
  confidential: boolean,
  senderName: string,
  settings: Pick<CorrespondenceSettings, 'channel' | 'confidentialResource'>,
): NotificationPlan {
  const warnings: ProblemItem[] = [];
  let template: string;
  if (confidential) {
    const own = dpv.taushetsbelagtVarselTekst?.trim();
    template = own || defaultConfidentialText(settings.confidentialResource);
    if (own && !mentionsRequiredAccess(own, settings.confidentialResource)) {
      warnings.push({
        field: 'arkivmelding.dpv.taushetsbelagtVarselTekst',
        code: 'ConfidentialNotificationWithoutAccessHint',
        message: `The notification text does not say what access is needed to read confidential post (the Altinn service «${settings.confidentialResource}» or the access package «${CONFIDENTIAL_ACCESS_PACKAGE}»); the receiver may not find out who must be given access, and the message may stay unopened.`,
      });
    }
  } else {
    template = dpv.varselTekst?.trim() || DEFAULT_ORDINARY_TEXT;
  }
  return {
    channel: dpv.varselTransportType ? CHANNELS[dpv.varselTransportType] : settings.channel,
    text: template.split('$reporterName$').join(senderName),
    reminder: dpv.varselType !== 'VarselDPVUtenRevarsel',
    warnings,
  };
}

/** The due date: dagerTilSvarfrist days from now when positive, none when zero or negative, else the configured default. */
export function dueDate(dpv: DpvSettings, now: Date, defaultDays: number): Date | null {
  const days = dpv.dagerTilSvarfrist ?? defaultDays;
  return days > 0 ? new Date(now.getTime() + days * 86_400_000) : null;
}

/** Builds the correspondence, or says why this message must not be sent. */
export function planCorrespondence(
  input: CorrespondenceInput,
  settings: CorrespondenceSettings,
): CorrespondencePlan {
  const confidential = input.resource === settings.confidentialResource;
  if (!input.resource) {
    return {
      ok: false,
      reason: 'Adressetjenesten oppgir ingen Altinn-ressurs for mottakeren; meldingen er ikke sendt.',
    };
  }
  if (input.process === settings.taushetsbelagtProcess && !confidential) {
    return {
      ok: false,
      reason: `Taushetsbelagt post er ikke sendt: adressetjenesten sender den nå for mottaker ${input.receiver} til Altinn-ressursen '${input.resource}', som ikke er den taushetsbelagte ressursen '${settings.confidentialResource}'. Der kan personer uten tilgang til taushetsbelagt post lese den. Sjekk mottakerens oppsett i adressetjenesten, og send på nytt.`,
    };
  }
  const publicTitle = input.summary.publicTitle?.trim() ?? '';
  if (!publicTitle) {
    return {
      ok: false,
      reason: 'arkivmelding.xml har ingen tittel å vise i Altinn (offentligTittel); meldingen er ikke sendt.',
    };
  }
  const byName = new Map(input.files.map((f) => [f.filename, f]));
  const files: CorrespondenceFile[] = [];
  for (const name of new Set(input.summary.referencedFiles)) {
    const f = byName.get(name);
    if (!f)
      return {
        ok: false,
        reason: `En fil som arkivmelding.xml viser til, mangler i meldingen (dokument ${files.length + 1}); meldingen er ikke sendt.`,
      };
    files.push(f);
  }
  const note = notificationPlan(input.dpv, confidential, input.senderName, settings);
  const due = dueDate(input.dpv, input.now, settings.daysToReply);
  const body = input.confidentialTitle?.trim() || publicTitle;
  const c = 'correspondence';
  const n = `${c}.notification`;
  const fields: [string, string][] = [
    ['recipients[0]', recipientUrn(input.receiver)],
    ['idempotentKey', input.messageId],
    [`${c}.resourceId`, input.resource],
    [`${c}.sendersReference`, input.messageId],
    [`${c}.messageSender`, truncate(input.senderName, 255)],
    [`${c}.requestedPublishTime`, input.now.toISOString()],
    ...(due ? ([[`${c}.dueDateTime`, due.toISOString()]] as [string, string][]) : []),
    [`${c}.isConfirmationNeeded`, 'false'],
    [`${c}.isConfidential`, String(confidential)],
    [`${c}.propertyList.senderOrgNumber`, input.senderOrgnr],
    [`${c}.content.language`, 'nb'],
    [`${c}.content.messageTitle`, truncate(publicTitle, LIMITS.title)],
    [`${c}.content.messageSummary`, truncate(publicTitle, LIMITS.summary)],
    [`${c}.content.messageBody`, truncate(markdownText(body), LIMITS.body)],
  ];
  files.forEach((f, i) => {
    const a = `${c}.content.attachments[${i}]`;
    fields.push(
      [`${a}.fileName`, f.filename],
      [`${a}.displayName`, truncate(f.title || f.filename, 255)],
      [`${a}.isEncrypted`, 'false'],
      [`${a}.sendersReference`, `${input.messageId}-${i + 1}`],
    );
  });
  const email = truncate(note.text, LIMITS.email);
  const sms = truncate(note.text, LIMITS.sms);
  fields.push(
    [`${n}.notificationTemplate`, 'CustomMessage'],
    [`${n}.notificationChannel`, note.channel],
    [`${n}.emailSubject`, settings.emailSubject],
    [`${n}.emailBody`, email],
    [`${n}.emailContentType`, 'Plain'],
    [`${n}.smsBody`, sms],
    [`${n}.sendReminder`, String(note.reminder)],
  );
  if (note.reminder) {
    fields.push(
      [`${n}.reminderNotificationChannel`, note.channel],
      [`${n}.reminderEmailSubject`, settings.emailSubject],
      [`${n}.reminderEmailBody`, email],
      [`${n}.reminderEmailContentType`, 'Plain'],
      [`${n}.reminderSmsBody`, sms],
    );
  }
  return { ok: true, fields, files, confidential, warnings: note.warnings };
}
