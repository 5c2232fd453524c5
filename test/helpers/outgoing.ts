import type { Harness } from './harness.js';
import { arkivmeldingXml, sbd } from './messages.js';

export const PUBLIC_TITLE = 'Vedtak om tiltak for mottaker, sak 2026/4711';
export const SECRET_TITLE = 'Hemmelig tittel om navngitt barn';
export const FILE_TITLE = 'Vedtaksbrev til foreldre';

/** Creates a taushetsbelagt message with its arkivmelding.xml and document uploaded (not sent). */
export async function createConfidentialMessage(
  h: Harness,
): Promise<{ messageId: string; conversationId: string }> {
  const created = await h.json('POST', '/api/messages/out', sbd({ hoveddokument: 'vedtak.pdf' }));
  if (created.status !== 200) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const header = created.body.standardBusinessDocumentHeader as {
    documentIdentification: { instanceIdentifier: string };
    businessScope: { scope: { instanceIdentifier: string }[] };
  };
  const messageId = header.documentIdentification.instanceIdentifier;
  const conversationId = header.businessScope.scope[0]!.instanceIdentifier;
  const put = async (filename: string, body: string, title: string, type: string) => {
    const res = await h.fetch(`/api/messages/out/${messageId}?title=${encodeURIComponent(title)}`, {
      method: 'PUT',
      headers: { 'content-type': type, 'content-disposition': `attachment; filename="${filename}"` },
      body,
    });
    if (res.status !== 200) throw new Error(`upload ${filename}: ${res.status} ${await res.text()}`);
  };
  await put(
    'arkivmelding.xml',
    arkivmeldingXml({ files: ['vedtak.pdf'], offentligTittel: PUBLIC_TITLE, tittel: SECRET_TITLE }),
    'Arkivmelding',
    'text/xml',
  );
  await put('vedtak.pdf', '%PDF-1.7 innhold', FILE_TITLE, 'application/pdf');
  return { messageId, conversationId };
}
