import { z } from 'zod';
import { NEXTMOVE_MESSAGE_TYPES } from './sbd.js';

/**
 * The address service's (service registry, SR) answer and what the integration point makes of it:
 * the capabilities JSON and the service-record decision. Pure: no I/O.
 */

/** Message types a document type's suffix after '::' may name (feil has no business message of its own). */
export const KNOWN_MESSAGE_TYPES: readonly string[] = Object.freeze([...NEXTMOVE_MESSAGE_TYPES, 'feil']);

// SR answers are read leniently: unknown fields are kept (looseObject) and optional ones may be null or absent.
const optionalString = z.string().nullish();

const postadresseSchema = z.looseObject({
  adresse: optionalString,
  postnummer: optionalString,
  poststed: optionalString,
  land: optionalString,
});

export const infoRecordSchema = z.looseObject({
  identifier: z.string(),
  organizationName: optionalString,
  postadresse: postadresseSchema.nullish(),
  entityType: z.looseObject({ name: optionalString }).nullish(),
});

export const srServiceSchema = z.looseObject({
  /** DPO, DPV, DPF, DPI, DPE, DPH; absent means the integration point reports UNKNOWN. */
  identifier: optionalString,
  endpointUrl: optionalString,
  serviceCode: optionalString,
  serviceEditionCode: optionalString,
  securityLevel: z.number().int().nullish(),
  /** Altinn 3 resource id, e.g. eformidling-dpv-taushetsbelagt. */
  resource: optionalString,
});

export const serviceRecordSchema = z.looseObject({
  // SR spells it with an s, and uses it for person ids too.
  organisationNumber: z.string(),
  pemCertificate: optionalString,
  process: z.string(),
  documentTypes: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  service: srServiceSchema,
});

export const identifierResourceSchema = z.looseObject({
  infoRecord: infoRecordSchema,
  // The info-only endpoint may leave the list out.
  serviceRecords: z
    .array(serviceRecordSchema)
    .nullish()
    .transform((v) => v ?? []),
});

export type InfoRecord = z.output<typeof infoRecordSchema>;
export type SrService = z.output<typeof srServiceSchema>;
export type ServiceRecord = z.output<typeof serviceRecordSchema>;
export type IdentifierResource = z.output<typeof identifierResourceSchema>;

export interface DocumentTypeCapability {
  type?: string;
  standard: string;
}

export interface Capability {
  process: string;
  serviceIdentifier: string;
  documentTypes: DocumentTypeCapability[];
  postAddress?: unknown;
  returnAddress?: unknown;
  digitalPostAddress?: unknown;
}

/** The transport a service record names, or UNKNOWN as the reference reports a missing one. */
export function serviceIdentifierOf(record: ServiceRecord): string {
  return record.service.identifier || 'UNKNOWN';
}

/** The message type a document standard ends with ("…::arkivmelding"), only when it is a known one. */
export function messageTypeOf(standard: string): string | undefined {
  const at = standard.lastIndexOf('::');
  if (at < 0) return undefined;
  const suffix = standard.slice(at + 2);
  return KNOWN_MESSAGE_TYPES.includes(suffix) ? suffix : undefined;
}

// The reference serialises with NON_NULL, so empty values are left out rather than written as null.
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

const POSTAL_FIELDS = ['name', 'street', 'postalCode', 'postalArea', 'country'] as const;

function postalAddress(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const src = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of POSTAL_FIELDS) if (present(src[f])) out[f] = src[f];
  return out;
}

function toCapability(record: ServiceRecord): Capability {
  const serviceIdentifier = serviceIdentifierOf(record);
  const documentTypes = record.documentTypes.map((standard): DocumentTypeCapability => {
    const type = messageTypeOf(standard);
    return type === undefined ? { standard } : { type, standard };
  });
  if (serviceIdentifier !== 'DPI') return { process: record.process, serviceIdentifier, documentTypes };
  // Only DPI (citizen post) carries addresses, as in the reference.
  const postAddress = postalAddress(record.postAddress);
  const returnAddress = postalAddress(record.returnAddress);
  const digitalPostAddress: Record<string, unknown> = {};
  if (present(record.orgnrPostkasse)) digitalPostAddress.supplier = record.orgnrPostkasse;
  if (present(record.postkasseAdresse)) digitalPostAddress.address = record.postkasseAdresse;
  // Spread keeps the reference's key order: process, serviceIdentifier, postAddress, returnAddress, documentTypes, digitalPostAddress.
  return {
    process: record.process,
    serviceIdentifier,
    ...(postAddress && { postAddress }),
    ...(returnAddress && { returnAddress }),
    documentTypes,
    digitalPostAddress,
  };
}

/** One capability per service record, in the order SR gave them. */
export function toCapabilities(res: IdentifierResource): { capabilities: Capability[] } {
  return { capabilities: res.serviceRecords.map(toCapability) };
}

/** The reference's decision: the first service record that accepts the document standard; its service is the transport. */
export function pickServiceRecord(
  res: IdentifierResource,
  documentStandard: string,
): ServiceRecord | undefined {
  return res.serviceRecords.find((r) => r.documentTypes.includes(documentStandard));
}
