import { Agent, request, type ServerResponse } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** One request with the path sent exactly as given (fetch and URL would normalise dot segments and case). */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Writes `chunk` to `res` for as long as the client reads, without end: only the client stopping (or the socket
 * closing) ends it. Returns how many bytes have been written so far.
 */
export function writeEndlessly(res: ServerResponse, chunk: Buffer): () => number {
  let written = 0;
  const more = () => {
    while (!res.destroyed) {
      written += chunk.length;
      if (!res.write(chunk)) break;
    }
    if (!res.destroyed) res.once('drain', more);
  };
  more();
  return () => written;
}
