import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { problemOf } from '../../src/adapters/altinn.js';
import { loadSigningKey, MaskinportenClient } from '../../src/adapters/maskinporten.js';

describe('problemOf', () => {
  it('reads business and validation ProblemDetails, and nothing from HTML', () => {
    expect(
      problemOf(
        JSON.stringify({
          code: 'CORR-01034',
          errorCode: 1034,
          detail: 'A correspondence with the same idempotent key already exists',
        }),
      ),
    ).toEqual({
      code: 'CORR-01034',
      detail: 'A correspondence with the same idempotent key already exists',
    });
    expect(
      problemOf(
        JSON.stringify({
          code: 'STD-00000',
          errors: { 'Correspondence.Content.MessageTitle': ['The MessageTitle field is required.'] },
        }),
      ),
    ).toEqual({
      code: 'STD-00000',
      detail: 'Correspondence.Content.MessageTitle: The MessageTitle field is required.',
    });
    expect(problemOf('"Notification mapping failed"')).toEqual({ detail: 'Notification mapping failed' });
    expect(problemOf('<html>Bad gateway</html>')).toEqual({});
  });
});

describe('Maskinporten key and grant', () => {
  it('takes a PEM, a JWK or a file holding either; the grant is signed, scoped and aimed at the issuer', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const jwk = { ...(await exportJWK(privateKey)), kid: 'k9' };
    const dir = mkdtempSync(join(tmpdir(), 'mp-key-'));
    try {
      const file = join(dir, 'key.pem');
      writeFileSync(file, pem);
      expect((await loadSigningKey(pem)).alg).toBe('RS256');
      expect((await loadSigningKey(JSON.stringify(jwk))).kid).toBe('k9');
      expect((await loadSigningKey(file)).alg).toBe('RS256');

      let grant = '';
      const client = new MaskinportenClient({
        tokenUrl: 'https://test.maskinporten.no/token',
        clientId: 'my-client',
        key: file,
        timeoutMs: 1000,
        fetch: (async (_url: string, init: RequestInit) => {
          grant = new URLSearchParams(String(init.body)).get('assertion') ?? '';
          return new Response(JSON.stringify({ access_token: 'at-1', expires_in: 120 }), { status: 200 });
        }) as typeof fetch,
      });
      expect(await client.accessToken('a:b c:d')).toBe('at-1');
      const { payload } = await jwtVerify(grant, publicKey, {
        issuer: 'my-client',
        audience: 'https://test.maskinporten.no/',
      });
      expect(payload.scope).toBe('a:b c:d');
      // Cached: no second request for the same scope.
      grant = '';
      expect(await client.accessToken('a:b c:d')).toBe('at-1');
      expect(grant).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
