import { describe, expect, it } from 'vitest';
import {
  type CorrespondenceInput,
  type CorrespondenceSettings,
  defaultConfidentialText,
  dueDate,
  mentionsRequiredAccess,
  planCorrespondence,
} from '../../src/domain/correspondence.js';
import {
  GONE_DESCRIPTION,
  LACKS_ROLES_DESCRIPTION,
  notificationReport,
  pollInterval,
  pollVerdict,
} from '../../src/domain/correspondence-status.js';
import { buildKvittering, kvitteringMessageId } from '../../src/domain/kvittering.js';
import { retryDelay } from '../../src/workers/send-worker.js';

const TAUSHETSBELAGT = 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0';
const settings: CorrespondenceSettings = {
  confidentialResource: 'eformidling-dpv-taushetsbelagt',
  taushetsbelagtProcess: TAUSHETSBELAGT,
  daysToReply: 7,
  channel: 'EmailAndSms',
  emailSubject: 'Melding mottatt i Altinn',
};
const now = new Date('2026-11-30T10:00:00Z');
const MID = '8f0e5b1c-3d2a-4c1b-9e8f-7a6b5c4d3e2f';

function input(o: Partial<CorrespondenceInput> = {}): CorrespondenceInput {
  return {
    messageId: MID,
    process: TAUSHETSBELAGT,
    receiver: '910075946',
    senderOrgnr: '910077473',
    senderName: 'SANDKASSE AVSENDERETAT',
    resource: 'eformidling-dpv-taushetsbelagt',
    summary: {
      publicTitle: 'Melding om tiltak, sak 2026/4711',
      referencedFiles: ['vedtak.pdf', 'vedlegg.pdf'],
    },
    confidentialTitle: 'Hemmelig tittel',
    dpv: { varselType: 'VarselDPVMedRevarsel', varselTransportType: 'Epost' },
    files: [
      { filename: 'arkivmelding.xml', title: 'Arkivmelding', mimeType: 'text/xml' },
      { filename: 'vedlegg.pdf', title: 'Vedlegg', mimeType: 'application/pdf' },
      { filename: 'vedtak.pdf', title: 'Vedtak', mimeType: 'application/pdf' },
      { filename: 'ekstra.pdf', title: 'Ikke referert', mimeType: 'application/pdf' },
    ],
    now,
    ...o,
  };
}

function fieldsOf(o: Partial<CorrespondenceInput> = {}): Record<string, string> {
  const plan = planCorrespondence(input(o), settings);
  if (!plan.ok) throw new Error(plan.reason);
  return Object.fromEntries(plan.fields);
}

describe('planCorrespondence', () => {
  it('fills the correspondence as spec §7.2 describes, with only the referenced files in arkivmelding order', () => {
    const plan = planCorrespondence(input(), settings);
    if (!plan.ok) throw new Error(plan.reason);
    const f = Object.fromEntries(plan.fields);
    expect(f['recipients[0]']).toBe('urn:altinn:organization:identifier-no:910075946');
    expect(f.idempotentKey).toBe(MID);
    expect(f['correspondence.sendersReference']).toBe(MID);
    expect(f['correspondence.resourceId']).toBe('eformidling-dpv-taushetsbelagt');
    expect(f['correspondence.isConfidential']).toBe('true');
    expect(f['correspondence.messageSender']).toBe('SANDKASSE AVSENDERETAT');
    expect(f['correspondence.propertyList.senderOrgNumber']).toBe('910077473');
    expect(f['correspondence.content.language']).toBe('nb');
    expect(f['correspondence.content.messageTitle']).toBe('Melding om tiltak, sak 2026/4711');
    expect(f['correspondence.content.messageSummary']).toBe('Melding om tiltak, sak 2026/4711');
    expect(f['correspondence.content.messageBody']).toBe('Hemmelig tittel');
    expect(f['correspondence.requestedPublishTime']).toBe(now.toISOString());
    expect(f['correspondence.dueDateTime']).toBe('2026-12-07T10:00:00.000Z');
    expect(plan.files.map((x) => x.filename)).toEqual(['vedtak.pdf', 'vedlegg.pdf']);
    expect(f['correspondence.content.attachments[0].fileName']).toBe('vedtak.pdf');
    expect(f['correspondence.content.attachments[0].displayName']).toBe('Vedtak');
    expect(f['correspondence.content.attachments[1].fileName']).toBe('vedlegg.pdf');
    expect(f['correspondence.content.attachments[2].fileName']).toBeUndefined();
    expect(f['correspondence.notification.notificationTemplate']).toBe('CustomMessage');
    expect(f['correspondence.notification.notificationChannel']).toBe('Email');
    expect(f['correspondence.notification.sendReminder']).toBe('true');
    expect(f['correspondence.notification.reminderNotificationChannel']).toBe('Email');
    expect(plan.confidential).toBe(true);
  });

  it('never sends taushetsbelagt post to a non-confidential resource, and says why', () => {
    const plan = planCorrespondence(input({ resource: 'eformidling-dpv-administrasjon' }), settings);
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.reason).toContain("'eformidling-dpv-administrasjon'");
    expect(!plan.ok && plan.reason).toContain('som ikke er den taushetsbelagte ressursen');
  });

  it('marks a correspondence confidential exactly when the resource is the confidential one', () => {
    const other = fieldsOf({
      process: 'urn:no:difi:profile:arkivmelding:administrasjon:ver1.0',
      resource: 'eformidling-dpv-administrasjon',
    });
    expect(other['correspondence.isConfidential']).toBe('false');
    expect(other['correspondence.notification.emailBody']).toBe(
      '$correspondenceRecipientName$: Du har fått en melding fra SANDKASSE AVSENDERETAT i Altinn.',
    );
  });

  it('uses our confidential text when the sender gives none: sender named, access named, recipient token left for Altinn', () => {
    const f = fieldsOf();
    const text = f['correspondence.notification.emailBody']!;
    expect(text).toBe(
      defaultConfidentialText('eformidling-dpv-taushetsbelagt').replace(
        '$reporterName$',
        'SANDKASSE AVSENDERETAT',
      ),
    );
    expect(text).toContain('SANDKASSE AVSENDERETAT');
    expect(text).toContain('«eformidling-dpv-taushetsbelagt»');
    expect(text).toContain('$correspondenceRecipientName$');
    expect(text).not.toContain('$reporterName$');
    expect(f['correspondence.notification.smsBody']).toBe(text);
    expect(f['correspondence.notification.reminderEmailBody']).toBe(text);
  });

  it("uses the sender's taushetsbelagtVarselTekst, and warns when it does not say what access is needed", () => {
    const good = planCorrespondence(
      input({
        dpv: {
          taushetsbelagtVarselTekst:
            'Taushetsbelagt post fra $reporterName$: gi noen tilgang til eformidling-dpv-taushetsbelagt i Altinn.',
        },
      }),
      settings,
    );
    expect(good.ok && Object.fromEntries(good.fields)['correspondence.notification.emailBody']).toBe(
      'Taushetsbelagt post fra SANDKASSE AVSENDERETAT: gi noen tilgang til eformidling-dpv-taushetsbelagt i Altinn.',
    );
    expect(good.ok && good.warnings).toEqual([]);
    const vague = planCorrespondence(
      input({ dpv: { taushetsbelagtVarselTekst: 'Ny post fra $reporterName$.' } }),
      settings,
    );
    expect(vague.ok && vague.warnings.map((w) => w.code)).toEqual([
      'ConfidentialNotificationWithoutAccessHint',
    ]);
    expect(vague.ok && Object.fromEntries(vague.fields)['correspondence.notification.emailBody']).toBe(
      'Ny post fra SANDKASSE AVSENDERETAT.',
    );
  });

  it('leaves the reminder out for VarselDPVUtenRevarsel and takes the configured channel when none is given', () => {
    const f = fieldsOf({ dpv: { varselType: 'VarselDPVUtenRevarsel' } });
    expect(f['correspondence.notification.sendReminder']).toBe('false');
    expect(f['correspondence.notification.reminderEmailBody']).toBeUndefined();
    expect(f['correspondence.notification.notificationChannel']).toBe('EmailAndSms');
  });

  it('escapes angle brackets in the markdown body and caps the title at 255 characters', () => {
    const f = fieldsOf({
      confidentialTitle: 'Svar <script>',
      summary: { publicTitle: 'x'.repeat(300), referencedFiles: ['vedtak.pdf'] },
    });
    expect(f['correspondence.content.messageBody']).toBe('Svar \\<script\\>');
    expect(Array.from(f['correspondence.content.messageTitle']!)).toHaveLength(255);
  });

  it('addresses an 11-digit receiver as a person', () => {
    expect(fieldsOf({ receiver: '01017012345', process: 'p', resource: 'r' })['recipients[0]']).toBe(
      'urn:altinn:person:identifier-no:01017012345',
    );
  });

  it('due date: dagerTilSvarfrist wins, zero or negative means none, absent takes the default', () => {
    expect(dueDate({ dagerTilSvarfrist: 2 }, now, 7)?.toISOString()).toBe('2026-12-02T10:00:00.000Z');
    expect(dueDate({ dagerTilSvarfrist: 0 }, now, 7)).toBeNull();
    expect(dueDate({}, now, 0)).toBeNull();
    expect(fieldsOf({ dpv: { dagerTilSvarfrist: -1 } })['correspondence.dueDateTime']).toBeUndefined();
  });

  it('recognises a text that names the access', () => {
    expect(
      mentionsRequiredAccess('Gi tilgangspakken Post til virksomheten med taushetsbelagt innhold', 'x'),
    ).toBe(true);
    expect(mentionsRequiredAccess('Du har post', 'eformidling-dpv-taushetsbelagt')).toBe(false);
  });
});

describe('status from the overview', () => {
  it('maps by the timestamps, not the highest status', () => {
    const published = new Date();
    expect(pollVerdict({ status: 'Published', published })).toEqual({
      steps: [{ status: 'LEVERT' }],
      stop: false,
    });
    expect(pollVerdict({ status: 'AttachmentsDownloaded', published, read: published })).toEqual({
      steps: [{ status: 'LEVERT' }, { status: 'LEST' }],
      stop: true,
    });
    expect(pollVerdict({ status: 'ReadyForPublish' })).toEqual({ steps: [], stop: false });
  });

  it('gone → ANNET and stop; purged → ANNET and stop', () => {
    expect(pollVerdict(null)).toEqual({
      steps: [{ status: 'ANNET', description: GONE_DESCRIPTION }],
      stop: true,
    });
    const purged = pollVerdict({ status: 'PurgedByRecipient', published: new Date() });
    expect(purged.steps.map((s) => s.status)).toEqual(['LEVERT', 'ANNET']);
    expect(purged.stop).toBe(true);
  });

  it('Failed → FEIL with the reason; lacking roles is said in Norwegian', () => {
    const lacks = pollVerdict({
      status: 'Failed',
      statusText:
        'Recipient of 0192:313000000 lacks roles required to read correspondence. Consider sending physical mail to this recipient instead.',
    });
    expect(lacks.stop).toBe(true);
    expect(lacks.steps[0]!.status).toBe('FEIL');
    expect(lacks.steps[0]!.description).toContain(LACKS_ROLES_DESCRIPTION);
    expect(lacks.steps[0]!.description).toContain('fysisk post');
    expect(pollVerdict({ status: 'Failed', statusText: 'Malware scan failed' }).steps[0]!.description).toBe(
      'Altinn kunne ikke levere meldingen: Malware scan failed',
    );
  });

  it('tolerates unknown statuses', () => {
    expect(pollVerdict({ status: 'Teleported' })).toEqual({
      steps: [],
      stop: false,
      unknownStatus: 'Teleported',
    });
  });

  it('backs off with age: base at 0, max at the ramp, linear between', () => {
    expect(pollInterval(0, 60_000, 3_600_000, 30 * 86_400_000)).toBe(60_000);
    expect(pollInterval(15 * 86_400_000, 60_000, 3_600_000, 30 * 86_400_000)).toBe(1_830_000);
    expect(pollInterval(90 * 86_400_000, 60_000, 3_600_000, 30 * 86_400_000)).toBe(3_600_000);
  });
});

describe('notification outcome', () => {
  it('notified, failed, no contact, none, pending', () => {
    const ok = notificationReport(
      [
        {
          isReminder: false,
          notificationStatusDetails: { email: { succeeded: true }, sms: { succeeded: false } },
        },
      ],
      false,
    );
    expect(ok.outcome).toBe('notified');
    expect(ok.warning).toBeUndefined();
    expect(ok.text).toContain('e-post');
    const failed = notificationReport(
      [{ notificationStatusDetails: { emails: [{ succeeded: false, sendStatus: { status: 'Failed' } }] } }],
      false,
    );
    expect(failed.outcome).toBe('failed');
    expect(failed.warning?.code).toBe('NotificationFailed');
    const noContact = notificationReport([{ processingStatus: { status: 'MissingContact' } }], false);
    expect(noContact.outcome).toBe('no-contact');
    expect(noContact.warning?.code).toBe('NotificationNoContactInformation');
    expect(notificationReport([], false).outcome).toBe('none');
    expect(notificationReport([{ processingStatus: { status: 'Registered' } }], false).outcome).toBe(
      'pending',
    );
    // The reminder is judged on its own entries.
    expect(
      notificationReport(
        [{ isReminder: false, notificationStatusDetails: { email: { succeeded: true } } }],
        true,
      ).outcome,
    ).toBe('none');
  });
});

describe('retry delay', () => {
  it('doubles per attempt up to the cap, with jitter between half and all', () => {
    expect(retryDelay(1, 20_000, 3_600_000, () => 1)).toBe(20_000);
    expect(retryDelay(1, 20_000, 3_600_000, () => 0)).toBe(10_000);
    expect(retryDelay(3, 20_000, 3_600_000, () => 1)).toBe(80_000);
    expect(retryDelay(30, 20_000, 3_600_000, () => 1)).toBe(3_600_000);
  });
});

describe('kvittering', () => {
  it('acknowledges the message on the response process, sender and receiver swapped, one id per message', () => {
    const k = buildKvittering({
      relatedToMessageId: MID,
      conversationId: 'c0nv',
      originalReceiver: '910075946',
      originalSender: '0192:910077473',
      now,
    });
    expect(k.messageId).toBe(kvitteringMessageId(MID));
    expect(k.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(kvitteringMessageId('other')).not.toBe(k.messageId);
    expect(k.sbd).toMatchObject({
      standardBusinessDocumentHeader: {
        sender: [{ identifier: { value: '0192:910075946' } }],
        receiver: [{ identifier: { value: '0192:910077473' } }],
        documentIdentification: { type: 'arkivmelding_kvittering', instanceIdentifier: k.messageId },
        businessScope: {
          scope: [
            {
              type: 'ConversationId',
              instanceIdentifier: 'c0nv',
              identifier: 'urn:no:difi:profile:arkivmelding:response:ver1.0',
            },
          ],
        },
      },
      arkivmelding_kvittering: { receiptType: 'OK', relatedToMessageId: MID, messages: [] },
    });
  });
});
