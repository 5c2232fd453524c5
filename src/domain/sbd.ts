import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, Errors, type ProblemItem } from './errors.js';
import {
  fullIdentifier,
  IDENTIFIER_FORM_HINT,
  ISO6523_AUTHORITY,
  type OrgIdentifier,
  parseOrgIdentifier,
  UUID_RE,
} from './identifiers.js';
import { findIllFormedString } from './json-text.js';
import { formatOslo, parseDateTime } from './time.js';

/** Every business-message type the NextMove API knows; only some are accepted here. */
export const NEXTMOVE_MESSAGE_TYPES = [
  'status',
  'arkivmelding',
  'arkivmelding_kvittering',
  'avtalt',
  'digital',
  'digital_dpv',
  'print',
  'dialogmelding',
  'dialogmelding_kvittering',
  'innsynskrav',
  'publisering',
  'einnsyn_kvittering',
] as const;
export const SUPPORTED_MESSAGE_TYPES = ['arkivmelding', 'arkivmelding_kvittering'] as const;
export type SupportedMessageType = (typeof SUPPORTED_MESSAGE_TYPES)[number];

export const SCOPE_TYPES = [
  'ConversationId',
  'SenderRef',
  'ReceiverRef',
  'JournalpostId',
  'ParentId',
  'MessageChannel',
];
const SCOPE_ENUM_NAMES: Record<string, string> = {
  CONVERSATION_ID: 'ConversationId',
  SENDER_REF: 'SenderRef',
  RECEIVER_REF: 'ReceiverRef',
  JOURNALPOST_ID: 'JournalpostId',
  PARENT_ID: 'ParentId',
  MESSAGE_CHANNEL: 'MessageChannel',
};

/** Process identifiers are URNs; they go into the address service's URL path, so their shape is checked here. */
export const MAX_PROCESS_LENGTH = 200;
const PROCESS_RE = new RegExp(`^urn:[A-Za-z0-9][A-Za-z0-9:._-]{0,${MAX_PROCESS_LENGTH - 5}}$`, 'i');

const dateTime = z.string().refine((v) => parseDateTime(v) !== null, {
  message: 'must be an ISO-8601 date-time, e.g. 2026-11-22T10:00:00+01:00',
});
/** Filenames are plain names: no path separators, no colon, no control characters. */
export const plainFilename = z
  .string()
  .min(1)
  .max(255)
  .refine((f) => isPlainFilename(f), {
    message: 'must be a plain file name (no / \\ : or control characters)',
  });

export function isPlainFilename(f: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  return f.length > 0 && f.length <= 255 && !/[/\\:\u0000-\u001f\u007f]/.test(f) && f !== '.' && f !== '..';
}

export const partnerSchema = z.object({
  identifier: z.object({ authority: z.string().min(1), value: z.string().min(1) }),
  contactInformation: z.array(z.looseObject({})).optional(),
});

export const scopeInformationSchema = z.object({
  expectedResponseDateTime: dateTime.optional(),
  requestingDocumentCreationDateTime: dateTime.optional(),
  requestingDocumentInstanceIdentifier: z.string().optional(),
});

export const scopeSchema = z.object({
  type: z.string().min(1),
  instanceIdentifier: z.string().min(1).optional(),
  identifier: z.string().min(1).optional(),
  scopeInformation: z.array(scopeInformationSchema).optional(),
});

export const headerSchema = z
  .object({
    headerVersion: z.string().min(1),
    sender: z.array(partnerSchema).max(1).optional(),
    receiver: z.array(partnerSchema).length(1),
    documentIdentification: z.object({
      standard: z.string().min(1),
      typeVersion: z.string().min(1),
      instanceIdentifier: z.string().regex(UUID_RE, 'must be a UUID').optional(),
      type: z.string().min(1),
      multipleType: z.boolean().optional(),
      creationDateAndTime: dateTime.optional(),
    }),
    manifest: z.looseObject({}).optional(),
    businessScope: z.object({ scope: z.array(scopeSchema).min(1) }),
  })
  .meta({ id: 'StandardBusinessDocumentHeader' });

export const dpvSettingsSchema = z.object({
  varselType: z.enum(['VarselDPVMedRevarsel', 'VarselDPVUtenRevarsel']).optional(),
  varselTransportType: z.enum(['Epost', 'SMS', 'EpostOgSMS']).optional(),
  varselTekst: z.string().max(4000).optional(),
  taushetsbelagtVarselTekst: z.string().max(4000).optional(),
  dagerTilSvarfrist: z.number().int().min(-3650).max(3650).optional(),
});

export const arkivmeldingMessageSchema = z
  .object({
    hoveddokument: plainFilename.optional(),
    sikkerhetsnivaa: z.number().int().min(1).max(4).optional(),
    dpv: dpvSettingsSchema.optional(),
    dpf: z.object({ forsendelseType: z.string().max(200).optional() }).optional(),
  })
  .meta({ id: 'ArkivmeldingMessage' });

export const arkivmeldingKvitteringSchema = z
  .object({
    hoveddokument: plainFilename.optional(),
    receiptType: z.enum(['OK', 'WARNING', 'ERROR', 'NOTSUPPORTED']),
    relatedToMessageId: z.string().min(1).max(100),
    messages: z
      .array(z.object({ code: z.string().max(200).optional(), text: z.string().max(4000).optional() }))
      .max(100)
      .optional(),
  })
  .meta({ id: 'ArkivmeldingKvitteringMessage' });

/** The SBD as documented in OpenAPI: the header plus one business message keyed by its type. */
export const sbdSchema = z
  .object({
    standardBusinessDocumentHeader: headerSchema,
    arkivmelding: arkivmeldingMessageSchema.optional(),
    arkivmelding_kvittering: arkivmeldingKvitteringSchema.optional(),
  })
  .meta({
    id: 'StandardBusinessDocument',
    description:
      'Exactly two keys: standardBusinessDocumentHeader and the business message, keyed by documentIdentification.type',
  });

export type SbdHeader = z.output<typeof headerSchema>;
export type ArkivmeldingMessage = z.output<typeof arkivmeldingMessageSchema>;
export type ArkivmeldingKvittering = z.output<typeof arkivmeldingKvitteringSchema>;

export interface Sbd {
  standardBusinessDocumentHeader: SbdHeader;
  type: SupportedMessageType;
  businessMessage: ArkivmeldingMessage | ArkivmeldingKvittering;
}

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = stripNulls(val);
    return out;
  }
  return v;
}

const HEADER = 'standardBusinessDocumentHeader';

function issuesToProblems(issues: z.core.$ZodIssue[], root: string, input: unknown): ProblemItem[] {
  return issues.map((i) => {
    const field = [root, ...i.path.map(String)].filter(Boolean).join('.');
    let rejected: unknown = input;
    for (const p of i.path)
      rejected = (rejected as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
    const missing = i.code === 'invalid_type' && rejected === undefined;
    const message = missing ? 'is required' : i.message.replace(/^Invalid input: /, '');
    return {
      field,
      code: missing ? 'NotNull' : i.code,
      message: `${field}: ${message}`,
      ...(rejected !== undefined && typeof rejected !== 'object' ? { rejectedValue: rejected } : {}),
    };
  });
}

function fail(problems: ProblemItem[]): never {
  throw Errors.validation(problems.map((p) => p.message).join('; '), { errors: problems });
}

/**
 * Reads an SBD as the reference does: exactly two top-level keys in either order, the business message
 * keyed by the canonical (lower-case) type name that documentIdentification.type names.
 */
export function parseSbd(raw: unknown): Sbd {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw Errors.badJson('The request body must be a JSON object: a StandardBusinessDocument');
  }
  const illFormed = findIllFormedString(raw);
  if (illFormed) {
    fail([
      {
        field: illFormed,
        code: 'Encoding',
        message: `${illFormed}: contains an unpaired UTF-16 surrogate, which is not text`,
      },
    ]);
  }
  const keys = Object.keys(raw);
  const bodyKeys = keys.filter((k) => k !== HEADER);
  if (!keys.includes(HEADER)) fail([{ field: HEADER, code: 'NotNull', message: `${HEADER}: is required` }]);
  if (keys.length !== 2 || bodyKeys.length !== 1) {
    throw Errors.badJson(
      `A StandardBusinessDocument has exactly two top-level fields: ${HEADER} and the business message; got ${keys.length} (${keys.join(', ')})`,
    );
  }
  const bodyKey = bodyKeys[0]!;
  const rec = raw as Record<string, unknown>;
  const headerRaw = stripNulls(rec[HEADER]) as Record<string, unknown>;
  const declared = (headerRaw?.documentIdentification as Record<string, unknown> | undefined)?.type;
  const typeName = typeof declared === 'string' ? declared : bodyKey;
  const canonical = NEXTMOVE_MESSAGE_TYPES.find((t) => t === typeName.toLowerCase());
  if (!canonical) {
    throw Errors.unknownMessageType(
      `Unknown business message type '${typeName}'. Expecting one of ${NEXTMOVE_MESSAGE_TYPES.join(', ')}`,
      {
        errors: [
          {
            field: `${HEADER}.documentIdentification.type`,
            code: 'MessageType',
            message: 'Must be a NextMove message type',
            rejectedValue: typeName,
          },
        ],
      },
    );
  }
  if (bodyKey !== canonical) {
    throw Errors.badJson(
      `The business message must be keyed '${canonical}' (documentIdentification.type), got '${bodyKey}'`,
    );
  }
  if (!(SUPPORTED_MESSAGE_TYPES as readonly string[]).includes(canonical)) {
    throw Errors.unknownMessageType(
      `Business message type '${canonical}' is not supported by this integration point; supported: ${SUPPORTED_MESSAGE_TYPES.join(', ')}`,
    );
  }
  const body = rec[bodyKey];
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    fail([{ field: bodyKey, code: 'NotNull', message: `${bodyKey}: must be a JSON object` }]);
  }
  const problems: ProblemItem[] = [];
  const header = headerSchema.safeParse(headerRaw);
  if (!header.success) problems.push(...issuesToProblems(header.error.issues, HEADER, headerRaw));
  const bodySchema = canonical === 'arkivmelding' ? arkivmeldingMessageSchema : arkivmeldingKvitteringSchema;
  const bodyClean = stripNulls(body);
  const business = bodySchema.safeParse(bodyClean);
  if (!business.success) problems.push(...issuesToProblems(business.error.issues, bodyKey, bodyClean));
  if (!header.success || !business.success) fail(problems);

  const h = header.data;
  for (const [i, s] of h.businessScope.scope.entries()) {
    const t = SCOPE_ENUM_NAMES[s.type] ?? s.type;
    if (!SCOPE_TYPES.includes(t)) {
      problems.push({
        field: `${HEADER}.businessScope.scope[${i}].type`,
        code: 'OneOf',
        message: `'${s.type}' is not expected. Allowed values are: [${SCOPE_TYPES.join(', ')}]`,
        rejectedValue: s.type,
      });
    }
    s.type = t;
  }
  const conv = h.businessScope.scope.find((s) => s.type === 'ConversationId');
  if (!conv) {
    problems.push({
      field: `${HEADER}.businessScope.scope`,
      code: 'NotNull',
      message: 'businessScope.scope must contain a scope of type ConversationId carrying the process',
    });
  } else {
    if (conv.instanceIdentifier !== undefined && !UUID_RE.test(conv.instanceIdentifier)) {
      problems.push({
        field: `${HEADER}.businessScope.scope.instanceIdentifier`,
        code: 'UUID',
        message: `'${conv.instanceIdentifier}' is not a UUID.`,
        rejectedValue: conv.instanceIdentifier,
      });
    }
    if (!conv.identifier) {
      problems.push({
        field: `${HEADER}.businessScope.scope.identifier`,
        code: 'NotNull',
        message: 'the ConversationId scope must name the process in identifier',
      });
    } else if (!PROCESS_RE.test(conv.identifier)) {
      problems.push({
        field: `${HEADER}.businessScope.scope.identifier`,
        code: 'Pattern',
        message: `the process identifier must be a URN of at most ${MAX_PROCESS_LENGTH} characters (letters, digits and : . - _), e.g. urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0`,
        rejectedValue:
          conv.identifier.length > 80
            ? `${conv.identifier.slice(0, 80)}… (${conv.identifier.length} characters)`
            : conv.identifier,
      });
    }
  }
  for (const [role, list] of [
    ['sender', h.sender ?? []],
    ['receiver', h.receiver],
  ] as const) {
    for (const p of list) {
      const field = `${HEADER}.${role}.identifier`;
      if (p.identifier.authority !== ISO6523_AUTHORITY) {
        problems.push({
          field: `${field}.authority`,
          code: 'Authority',
          message: `${field}.authority must be ${ISO6523_AUTHORITY}`,
          rejectedValue: p.identifier.authority,
        });
      }
      if (!parseOrgIdentifier(p.identifier.value)) {
        problems.push({
          field: `${field}.value`,
          code: 'PartnerIdentifier',
          message: `${field}.value ${IDENTIFIER_FORM_HINT}`,
          rejectedValue: p.identifier.value,
        });
      }
    }
  }
  if (problems.length) fail(problems);
  return {
    standardBusinessDocumentHeader: h,
    type: canonical as SupportedMessageType,
    businessMessage: business.data,
  };
}

export interface SbdFacts {
  messageId: string;
  conversationId: string;
  processIdentifier: string;
  documentStandard: string;
  type: SupportedMessageType;
  sender: OrgIdentifier;
  receiver: OrgIdentifier;
  expectedResponseDateTime: string;
  expiry: Date;
  creationDateAndTime: string;
}

export function conversationScope(sbd: Sbd) {
  return sbd.standardBusinessDocumentHeader.businessScope.scope.find((s) => s.type === 'ConversationId');
}

/** Derived accessors used everywhere; call after applyDefaults. */
export function factsOf(sbd: Sbd): SbdFacts {
  const h = sbd.standardBusinessDocumentHeader;
  const scope = conversationScope(sbd)!;
  const ttl = scope.scopeInformation?.[0]?.expectedResponseDateTime ?? '';
  return {
    messageId: h.documentIdentification.instanceIdentifier!,
    conversationId: scope.instanceIdentifier!,
    processIdentifier: scope.identifier!,
    documentStandard: h.documentIdentification.standard,
    type: sbd.type,
    sender: parseOrgIdentifier(h.sender![0]!.identifier.value)!,
    receiver: parseOrgIdentifier(h.receiver[0]!.identifier.value)!,
    expectedResponseDateTime: ttl,
    expiry: parseDateTime(ttl)?.date ?? new Date(0),
    creationDateAndTime: h.documentIdentification.creationDateAndTime ?? '',
  };
}

export interface DefaultsContext {
  orgNumber: string;
  defaultTtlHours: number;
  now: Date;
}

/**
 * Fills what the reference fills at create: sender, messageId, creation time, conversationId and other
 * scope ids, and the time to live; rewrites a foreign sender as on-behalf-of our own organisation.
 */
export function applyDefaults(sbd: Sbd, ctx: DefaultsContext): Sbd {
  const h = sbd.standardBusinessDocumentHeader;
  const problems: ProblemItem[] = [];
  if (!h.sender?.length) {
    h.sender = [{ identifier: { authority: ISO6523_AUTHORITY, value: `0192:${ctx.orgNumber}` } }];
  } else {
    const id = parseOrgIdentifier(h.sender[0]!.identifier.value)!;
    if (!id.part && id.orgnr !== ctx.orgNumber) {
      h.sender[0]!.identifier.value = fullIdentifier({ icd: id.icd, orgnr: ctx.orgNumber, part: id.orgnr });
    } else if (id.part && id.orgnr !== ctx.orgNumber) {
      problems.push({
        field: `${HEADER}.sender.identifier.value`,
        code: 'SenderValue',
        message: `the sender must be this integration point's organisation ${ctx.orgNumber} (or 0192:${ctx.orgNumber}:<on-behalf-of orgnr>)`,
        rejectedValue: h.sender[0]!.identifier.value,
      });
    }
  }
  const di = h.documentIdentification;
  di.instanceIdentifier ??= randomUUID();
  di.creationDateAndTime = di.creationDateAndTime
    ? parseDateTime(di.creationDateAndTime)!.text
    : formatOslo(ctx.now);
  for (const s of h.businessScope.scope) s.instanceIdentifier ??= randomUUID();
  const scope = conversationScope(sbd)!;
  scope.scopeInformation = scope.scopeInformation?.length ? scope.scopeInformation : [{}];
  const info = scope.scopeInformation[0]!;
  if (info.expectedResponseDateTime) {
    const parsed = parseDateTime(info.expectedResponseDateTime)!;
    if (parsed.date.getTime() <= ctx.now.getTime()) {
      problems.push({
        field: `${HEADER}.businessScope.scope.scopeInformation.expectedResponseDateTime`,
        code: 'Future',
        message: 'expectedResponseDateTime must be in the future',
        rejectedValue: info.expectedResponseDateTime,
      });
    }
    info.expectedResponseDateTime = parsed.text;
  } else {
    info.expectedResponseDateTime = formatOslo(new Date(ctx.now.getTime() + ctx.defaultTtlHours * 3_600_000));
  }
  for (const si of scope.scopeInformation) {
    if (si.requestingDocumentCreationDateTime)
      si.requestingDocumentCreationDateTime = parseDateTime(si.requestingDocumentCreationDateTime)!.text;
  }
  const suffix = `::${sbd.type}`;
  if (!di.standard.endsWith(suffix)) {
    throw new AppError(
      400,
      'MessageTypeDoesNotFitDocumentTypeException',
      `Message type ${sbd.type} does not match the document type ${di.standard}: the standard must end with '${suffix}'`,
    );
  }
  if (problems.length) fail(problems);
  return sbd;
}

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Writes the SBD with the reference's key order and NON_NULL / NON_EMPTY omissions. */
export function serializeSbd(sbd: Sbd): Record<string, unknown> {
  const h = sbd.standardBusinessDocumentHeader;
  const partner = (p: z.output<typeof partnerSchema>) =>
    compact({
      identifier: { authority: p.identifier.authority, value: p.identifier.value },
      contactInformation: p.contactInformation?.length ? p.contactInformation : undefined,
    });
  const di = h.documentIdentification;
  const header = compact({
    headerVersion: h.headerVersion,
    sender: h.sender?.map(partner),
    receiver: h.receiver.map(partner),
    documentIdentification: compact({
      standard: di.standard,
      typeVersion: di.typeVersion,
      instanceIdentifier: di.instanceIdentifier,
      type: di.type,
      multipleType: di.multipleType,
      creationDateAndTime: di.creationDateAndTime,
    }),
    manifest: h.manifest,
    businessScope: {
      scope: h.businessScope.scope.map((s) =>
        compact({
          type: s.type,
          instanceIdentifier: s.instanceIdentifier,
          identifier: s.identifier,
          scopeInformation: s.scopeInformation?.length
            ? s.scopeInformation.map((i) =>
                compact({
                  expectedResponseDateTime: i.expectedResponseDateTime,
                  requestingDocumentCreationDateTime: i.requestingDocumentCreationDateTime,
                  requestingDocumentInstanceIdentifier: i.requestingDocumentInstanceIdentifier,
                }),
              )
            : undefined,
        }),
      ),
    },
  });
  return { standardBusinessDocumentHeader: header, [sbd.type]: serializeBusinessMessage(sbd) };
}

function serializeBusinessMessage(sbd: Sbd): Record<string, unknown> {
  if (sbd.type === 'arkivmelding') {
    const m = sbd.businessMessage as ArkivmeldingMessage;
    return compact({
      hoveddokument: m.hoveddokument,
      sikkerhetsnivaa: m.sikkerhetsnivaa,
      dpv: m.dpv
        ? compact({
            varselType: m.dpv.varselType,
            varselTransportType: m.dpv.varselTransportType,
            varselTekst: m.dpv.varselTekst,
            taushetsbelagtVarselTekst: m.dpv.taushetsbelagtVarselTekst,
            dagerTilSvarfrist: m.dpv.dagerTilSvarfrist,
          })
        : undefined,
      dpf: m.dpf ? compact({ forsendelseType: m.dpf.forsendelseType }) : undefined,
    });
  }
  const k = sbd.businessMessage as ArkivmeldingKvittering;
  return compact({
    hoveddokument: k.hoveddokument,
    receiptType: k.receiptType,
    relatedToMessageId: k.relatedToMessageId,
    messages: (k.messages ?? []).map((m) => compact({ code: m.code, text: m.text })),
  });
}
