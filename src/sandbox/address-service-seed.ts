/**
 * Organisations the sandbox address service knows. The names and addresses are invented; the record shapes
 * follow what the real address service returns for DPV and DPO receivers.
 */

export interface SandboxService {
  identifier: 'DPO' | 'DPV' | 'DPF' | 'DPI' | 'DPE' | 'DPH';
  endpointUrl?: string;
  serviceCode?: string;
  serviceEditionCode?: string;
  securityLevel?: number;
  resource?: string;
}

export interface SandboxServiceRecord {
  process: string;
  documentTypes: string[];
  service: SandboxService;
  pemCertificate: string | null;
}

export interface SandboxOrg {
  identifier: string;
  organizationName: string;
  postadresse: { adresse: string; postnummer: string; poststed: string; land: string } | null;
  entityType: { name: string };
  serviceRecords: SandboxServiceRecord[];
}

export const PROCESS_TAUSHETSBELAGT = 'urn:no:difi:profile:arkivmelding:taushetsbelagt:ver1.0';
export const PROCESS_ADMINISTRASJON = 'urn:no:difi:profile:arkivmelding:administrasjon:ver1.0';
export const PROCESS_HELSE_SOSIAL_OG_OMSORG = 'urn:no:difi:profile:arkivmelding:helseSosialOgOmsorg:ver1.0';
export const PROCESS_ARKIVMELDING_RESPONSE = 'urn:no:difi:profile:arkivmelding:response:ver1.0';

export const DOCTYPE_ARKIVMELDING = 'urn:no:difi:arkivmelding:xsd::arkivmelding';
export const DOCTYPE_ARKIVMELDING_KVITTERING = 'urn:no:difi:arkivmelding:xsd::arkivmelding_kvittering';
export const DOCTYPE_STATUS = 'urn:no:difi:eformidling:xsd::status';
export const DOCTYPE_FEIL = 'urn:no:difi:eformidling:xsd::feil';

export const RESOURCE_DPV_TAUSHETSBELAGT = 'eformidling-dpv-taushetsbelagt';
export const RESOURCE_DPV_ADMINISTRASJON = 'eformidling-dpv-administrasjon';

/** Receives taushetsbelagt (and administrasjon) over DPV. */
export const ORG_DPV_TAUSHETSBELAGT = '910075946';
/** Receives ordinary processes over DPV only; has no taushetsbelagt record. */
export const ORG_DPV_ORDINARY_ONLY = '910075918';
/** Receives taushetsbelagt and administrasjon over DPO. */
export const ORG_DPO = '910229028';
/** The default own (sender) organisation: receipts over DPO, and taushetsbelagt over DPV. */
export const ORG_SENDER = '910077473';
/**
 * Accepts taushetsbelagt post over DPV (the confidential resource), but nobody there holds the Register roles Altinn
 * requires for confidential correspondence: the Altinn sandbox fails its correspondences at publish.
 */
export const ORG_NO_CONFIDENTIAL_ROLES = '910076055';
export const ORG_NO_CONFIDENTIAL_ROLES_NAME = 'TOMHEIM SANDKASSESTIFTELSE';
/** Not known to the address service. */
export const ORG_UNKNOWN = '404040404';

// A stand-in certificate: the sandbox never encrypts for DPO, it only shows where SR puts the PEM.
export const SANDBOX_PLACEHOLDER_PEM =
  '-----BEGIN CERTIFICATE-----\nU0FOREJPWCBQTEFDRUhPTERFUiBDRVJUSUZJQ0FURSAtIE5PVCBBIFJFQUwgS0VZ\n-----END CERTIFICATE-----\n';

const DPO_ENDPOINT = 'https://dpo.sandbox.invalid/ServiceEngineExternal/BrokerServiceExternalBasic.svc';

const dpv = (
  process: string,
  serviceCode: string,
  serviceEditionCode: string,
  resource: string,
): SandboxServiceRecord => ({
  process,
  documentTypes: [DOCTYPE_ARKIVMELDING],
  service: { identifier: 'DPV', serviceCode, serviceEditionCode, resource },
  pemCertificate: null,
});

const dpo = (process: string, documentTypes: string[]): SandboxServiceRecord => ({
  process,
  documentTypes,
  service: {
    identifier: 'DPO',
    endpointUrl: DPO_ENDPOINT,
    serviceCode: '4192',
    serviceEditionCode: '270815',
  },
  pemCertificate: SANDBOX_PLACEHOLDER_PEM,
});

const dpvTaushetsbelagt = () => dpv(PROCESS_TAUSHETSBELAGT, '5504', '1', RESOURCE_DPV_TAUSHETSBELAGT);
const dpvAdministrasjon = () => dpv(PROCESS_ADMINISTRASJON, '4255', '10', RESOURCE_DPV_ADMINISTRASJON);

export const SANDBOX_ORGS: readonly SandboxOrg[] = [
  {
    identifier: ORG_DPV_TAUSHETSBELAGT,
    organizationName: 'FJORDHEIM SANDKASSEKOMMUNE',
    postadresse: { adresse: 'Postboks 17', postnummer: '9990', poststed: 'FJORDHEIM', land: 'Norge' },
    entityType: { name: 'KOMM' },
    serviceRecords: [dpvTaushetsbelagt(), dpvAdministrasjon()],
  },
  {
    identifier: ORG_DPV_ORDINARY_ONLY,
    organizationName: 'BLÅLIA SANDKASSEETAT',
    postadresse: { adresse: 'Lyngveien 3', postnummer: '9991', poststed: 'BLÅLIA', land: 'Norge' },
    entityType: { name: 'ORGL' },
    serviceRecords: [
      dpvAdministrasjon(),
      dpv(PROCESS_HELSE_SOSIAL_OG_OMSORG, '4255', '2', 'eformidling-dpv-helsesosialogomsorg'),
    ],
  },
  {
    identifier: ORG_DPO,
    organizationName: 'STORVANN SANDKASSESENTER',
    postadresse: null,
    entityType: { name: 'ORGL' },
    serviceRecords: [
      dpo(PROCESS_TAUSHETSBELAGT, [DOCTYPE_ARKIVMELDING]),
      dpo(PROCESS_ADMINISTRASJON, [DOCTYPE_ARKIVMELDING]),
    ],
  },
  {
    identifier: ORG_NO_CONFIDENTIAL_ROLES,
    organizationName: ORG_NO_CONFIDENTIAL_ROLES_NAME,
    postadresse: { adresse: 'Postboks 404', postnummer: '9993', poststed: 'TOMHEIM', land: 'Norge' },
    entityType: { name: 'STI' },
    serviceRecords: [dpvTaushetsbelagt()],
  },
  {
    identifier: ORG_SENDER,
    organizationName: 'SANDKASSE AVSENDERETAT',
    postadresse: { adresse: 'Torget 1', postnummer: '9992', poststed: 'SANDVOLL', land: 'Norge' },
    entityType: { name: 'ORGL' },
    serviceRecords: [
      dpo(PROCESS_ARKIVMELDING_RESPONSE, [DOCTYPE_ARKIVMELDING_KVITTERING, DOCTYPE_STATUS, DOCTYPE_FEIL]),
      dpvTaushetsbelagt(),
    ],
  },
];
