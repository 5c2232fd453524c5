import { describe, expect, it } from 'vitest';
import {
  type IdentifierResource,
  identifierResourceSchema,
  KNOWN_MESSAGE_TYPES,
  messageTypeOf,
  pickServiceRecord,
  toCapabilities,
} from '../../src/domain/capabilities.js';

const ARKIVMELDING = 'urn:no:difi:arkivmelding:xsd::arkivmelding';
const KVITTERING = 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering';
const STATUS = 'urn:no:difi:eformidling:xsd::status';
const FEIL = 'urn:no:difi:eformidling:xsd::feil';
const TAUSHETSBELAGT = 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0';
const ADMINISTRASJON = 'urn:no:difi:profile:arkivmelding:administrasjon:ver1.0';
const RESPONSE = 'urn:no:difi:profile:arkivmelding:response:ver1.0';

/** Parses like the client does, so tests see the same shape the HTTP layer will. */
function resource(serviceRecords: unknown[]): IdentifierResource {
  return identifierResourceSchema.parse({
    infoRecord: { identifier: '911111111', organizationName: 'TESTETAT', entityType: { name: 'ORGL' } },
    serviceRecords,
  });
}

const record = (process: string, identifier: string | undefined, documentTypes: string[], extra = {}) => ({
  organisationNumber: '911111111',
  pemCertificate: null,
  process,
  documentTypes,
  service: { ...(identifier && { identifier }), serviceCode: '4255', serviceEditionCode: '10' },
  ...extra,
});

describe('toCapabilities', () => {
  it('writes keys in the reference order and sets type only for known message types', () => {
    const res = resource([
      record(RESPONSE, 'DPO', [KVITTERING, STATUS, FEIL, 'urn:no:example:xsd::unheard_of']),
    ]);
    expect(JSON.stringify(toCapabilities(res))).toBe(
      JSON.stringify({
        capabilities: [
          {
            process: RESPONSE,
            serviceIdentifier: 'DPO',
            documentTypes: [
              { type: 'arkivmelding_kvittering', standard: KVITTERING },
              { type: 'status', standard: STATUS },
              { type: 'feil', standard: FEIL },
              { standard: 'urn:no:example:xsd::unheard_of' },
            ],
          },
        ],
      }),
    );
  });

  it('keeps SR order, one capability per service record, and reports a missing service identifier as UNKNOWN', () => {
    const res = resource([
      record(TAUSHETSBELAGT, 'DPV', [ARKIVMELDING]),
      record(ADMINISTRASJON, 'DPO', [ARKIVMELDING]),
      record('urn:no:example:process', undefined, ['urn:no:example:no-separator']),
    ]);
    const { capabilities } = toCapabilities(res);
    expect(capabilities.map((c) => [c.process, c.serviceIdentifier])).toEqual([
      [TAUSHETSBELAGT, 'DPV'],
      [ADMINISTRASJON, 'DPO'],
      ['urn:no:example:process', 'UNKNOWN'],
    ]);
    expect(capabilities[2]?.documentTypes).toEqual([{ standard: 'urn:no:example:no-separator' }]);
  });

  it('gives DPI records their addresses between serviceIdentifier and documentTypes, and digitalPostAddress last', () => {
    const res = resource([
      record(
        'urn:no:difi:profile:digitalpost:info:ver1.0',
        'DPI',
        ['urn:no:difi:digitalpost:xsd:digital::digital'],
        {
          orgnrPostkasse: '922222222',
          postkasseAdresse: 'postkasse.test',
          returnAddress: {
            name: 'Avsender',
            street: 'Gate 1',
            postalCode: '0001',
            postalArea: 'OSLO',
            country: null,
          },
          postAddress: {
            name: 'Mottaker',
            street: 'Vei 2',
            postalCode: '0002',
            postalArea: 'OSLO',
            country: 'NO',
          },
        },
      ),
    ]);
    const [cap] = toCapabilities(res).capabilities;
    expect(Object.keys(cap ?? {})).toEqual([
      'process',
      'serviceIdentifier',
      'postAddress',
      'returnAddress',
      'documentTypes',
      'digitalPostAddress',
    ]);
    expect(cap?.returnAddress).toEqual({
      name: 'Avsender',
      street: 'Gate 1',
      postalCode: '0001',
      postalArea: 'OSLO',
    });
    expect(cap?.digitalPostAddress).toEqual({ supplier: '922222222', address: 'postkasse.test' });
  });

  it('leaves addresses out for non-DPI records even when SR sends them', () => {
    const res = resource([record(ADMINISTRASJON, 'DPV', [ARKIVMELDING], { postAddress: { name: 'x' } })]);
    expect(Object.keys(toCapabilities(res).capabilities[0] ?? {})).toEqual([
      'process',
      'serviceIdentifier',
      'documentTypes',
    ]);
  });

  it('lists no capabilities for a receiver without service records', () => {
    expect(toCapabilities(resource([]))).toEqual({ capabilities: [] });
  });
});

describe('messageTypeOf', () => {
  it('knows every reference message type and nothing else', () => {
    for (const t of KNOWN_MESSAGE_TYPES) expect(messageTypeOf(`urn:x::${t}`)).toBe(t);
    expect(messageTypeOf('urn:no:difi:arkivmelding:xsd::Arkivmelding')).toBeUndefined();
    expect(messageTypeOf('arkivmelding')).toBeUndefined();
  });
});

describe('pickServiceRecord', () => {
  const res = resource([
    record(RESPONSE, 'DPO', [KVITTERING, STATUS]),
    record(TAUSHETSBELAGT, 'DPV', [ARKIVMELDING], { service: { identifier: 'DPV', resource: 'first' } }),
    record(ADMINISTRASJON, 'DPO', [ARKIVMELDING]),
  ]);

  it('takes the first record whose document types contain the standard', () => {
    const picked = pickServiceRecord(res, ARKIVMELDING);
    expect(picked?.process).toBe(TAUSHETSBELAGT);
    expect(picked?.service.resource).toBe('first');
    expect(pickServiceRecord(res, STATUS)?.process).toBe(RESPONSE);
  });

  it('returns undefined when no record accepts the standard', () => {
    expect(pickServiceRecord(res, 'urn:no:difi:avtalt:xsd::avtalt')).toBeUndefined();
  });
});

describe('service record schema', () => {
  it('accepts absent and null optional fields and keeps unknown fields', () => {
    const res = identifierResourceSchema.parse({
      infoRecord: { identifier: '911111111', postadresse: null, somethingNew: 1 },
      serviceRecords: [
        {
          organisationNumber: '911111111',
          process: TAUSHETSBELAGT,
          documentTypes: [ARKIVMELDING],
          service: {
            identifier: 'DPV',
            endpointUrl: null,
            securityLevel: null,
            resource: null,
            futureField: 'x',
          },
          herIdLevel1: '42',
        },
      ],
    });
    expect(res.infoRecord.somethingNew).toBe(1);
    expect(res.serviceRecords[0]?.service.futureField).toBe('x');
    expect(res.serviceRecords[0]?.herIdLevel1).toBe('42');
    expect(res.serviceRecords[0]?.pemCertificate).toBeUndefined();
  });

  it('reads a missing service-record list as empty', () => {
    expect(
      identifierResourceSchema.parse({ infoRecord: { identifier: '911111111' } }).serviceRecords,
    ).toEqual([]);
  });

  it('rejects a record without a process', () => {
    expect(() =>
      identifierResourceSchema.parse({
        infoRecord: { identifier: '911111111' },
        serviceRecords: [{ organisationNumber: '911111111', documentTypes: [], service: {} }],
      }),
    ).toThrow();
  });
});
