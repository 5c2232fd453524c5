import type { FastifyInstance } from 'fastify';

/**
 * Request bodies left unread by a refusal (a 400 before the rest of a multipart upload, a 401 before a large
 * PUT) would otherwise stall the keep-alive connection: the parser waits for someone to read those bytes, and
 * the client's next request on the socket gets no answer. Up to `drainLimit` more bytes are read and thrown
 * away, so the client can finish sending and read the answer; a body declared larger (or a drain that goes
 * past the limit) gets `Connection: close` instead, so the connection is not reused.
 */
export function registerUnreadBodyHandling(app: FastifyInstance, drainLimit: number): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const req = request.raw;
    // Every byte of the request has arrived (or there was no body): the connection is not held up.
    if (req.complete) return payload;
    const declared = Number(req.headers['content-length']);
    const bounded = Number.isFinite(declared) && declared <= drainLimit;
    if (!bounded) reply.header('connection', 'close');
    let drained = 0;
    req.unpipe();
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > drainLimit) {
        // More than announced or allowed: stop reading; the socket goes once the answer is out.
        req.pause();
        reply.raw.once('finish', () => req.socket.destroy());
        if (reply.raw.writableFinished) req.socket.destroy();
      }
    });
    req.resume();
    return payload;
  });
}
