/** One part of a hand-written multipart/form-data body: the part headers exactly as given. */
export interface RawPart {
  headers: string[];
  body: string | Buffer;
}

/** A multipart body byte for byte, as a given client would write it (CRLF line ends). */
export function multipartBody(boundary: string, parts: RawPart[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A file part: name = title, filename, Content-Type. */
export function filePart(
  title: string,
  filename: string,
  contentType: string,
  body: string | Buffer,
): RawPart {
  return {
    headers: [
      `Content-Disposition: form-data; name="${title}"; filename="${filename}"`,
      `Content-Type: ${contentType}`,
    ],
    body,
  };
}
