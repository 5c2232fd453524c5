import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  headers: string;
  subject: string;
  text: string;
}

function decodeQ(s: string): string {
  return s.replace(/=\?utf-8\?([qb])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
    enc.toLowerCase() === 'b'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(
          data
            .replace(/_/g, ' ')
            .replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

function decodeBody(body: string, encoding: string): string {
  if (/base64/i.test(encoding)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/quoted-printable/i.test(encoding)) {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** A real SMTP server for the tests: records each accepted mail; `down` makes it refuse with a 421. */
export class TestSmtp {
  readonly mails: ReceivedMail[] = [];
  refused = 0;
  down = false;
  port = 0;
  private server: SMTPServer;

  constructor(
    readonly user = 'varsel',
    readonly pass = 'smtp-passord-123',
  ) {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, cb) =>
        auth.username === this.user && auth.password === this.pass
          ? cb(null, { user: auth.username })
          : cb(new Error('Invalid username or password')),
      onMailFrom: (_address, _session, cb) => {
        if (!this.down) return cb();
        this.refused++;
        const err = new Error('Service not available') as Error & { responseCode: number };
        err.responseCode = 421;
        return cb(err);
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const split = raw.indexOf('\r\n\r\n');
          const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
          const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(headers)?.[1] ?? '';
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            headers,
            subject: decodeQ(header('Subject')),
            text: decodeBody(raw.slice(split + 4), header('Content-Transfer-Encoding')),
          });
          cb();
        });
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const addr = this.server.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  get url(): string {
    return `smtp://${this.user}:${this.pass}@127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
