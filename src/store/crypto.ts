import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM with keys derived from the one configured data key: `seal` for confidential fields kept
 * in Redis (SBD with notification texts, file titles), `fileKey` for attachments on disk, `hmac` for
 * lookups by file name without storing the name in clear.
 */
export class Crypto {
  // Key objects made once: a raw Buffer key would be imported again by every cipher and HMAC.
  private readonly sealKey: KeyObject;
  readonly fileKey: Buffer;
  private readonly hmacKey: KeyObject;

  constructor(master: Buffer) {
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
    this.sealKey = createSecretKey(derive('eip/seal/v1'));
    this.fileKey = derive('eip/file/v1');
    this.hmacKey = createSecretKey(derive('eip/hmac/v1'));
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `v1.${Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('unknown sealed format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, IV_BYTES));
    d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), d.final()]).toString(
      'utf8',
    );
  }

  hmac(value: string): string {
    return createHmac('sha256', this.hmacKey).update(value, 'utf8').digest('hex').slice(0, 40);
  }
}
