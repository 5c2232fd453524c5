import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOpenApi, stableJson } from '../../scripts/openapi-spec.js';

describe('OpenAPI', () => {
  it('matches the committed openapi/openapi.json (run `npm run openapi` after changing routes)', async () => {
    const committed = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
    expect(stableJson(await generateOpenApi())).toBe(committed);
  });
  it('documents the reference paths with $refs to shared schemas', async () => {
    const doc = (await generateOpenApi()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const p of [
      '/api/messages/out',
      '/api/messages/out/{messageId}',
      '/api/messages/out/multipart',
      '/api/statuses',
      '/api/statuses/{messageId}',
      '/api/conversations',
      '/api/conversations/{id}',
      '/api/conversations/messageId/{messageId}',
      '/api/capabilities/{receiverIdentifier}',
      '/api/messages/in',
      '/api/messages/in/peek',
      '/api/messages/in/pop/{messageId}',
      '/api/messages/in/{messageId}',
      '/api/subscriptions',
      '/api/subscriptions/{id}',
      '/api/reports/unread',
    ]) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
    expect(Object.keys(doc.paths['/api/messages/out/{messageId}']!).sort()).toEqual([
      'delete',
      'get',
      'post',
      'put',
    ]);
    for (const s of ['StandardBusinessDocument', 'Error', 'Conversation', 'MessageStatus', 'Capabilities']) {
      expect(doc.components.schemas).toHaveProperty([s]);
    }
  });
});
