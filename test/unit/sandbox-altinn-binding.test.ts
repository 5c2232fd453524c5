import { describe, expect, it } from 'vitest';
import {
  isValidNationalIdentityNumber,
  matchFiles,
  normaliseRecipient,
  treeFromForm,
  treeFromJson,
} from '../../src/sandbox/altinn-validation.js';

describe('sandbox Altinn form binding', () => {
  it('builds nested objects and index-ordered arrays from dotted keys, folding case except property-list keys', () => {
    const tree = treeFromForm({
      'Correspondence.Content.Attachments[1].FileName': ['b.pdf'],
      'correspondence.content.attachments[0].fileName': ['a.pdf'],
      'correspondence.propertyList.senderOrgNumber': ['910077473'],
      'recipients[1]': ['second'],
      'recipients[0]': ['first'],
      'not..a.key': ['ignored'],
    });
    expect(JSON.parse(JSON.stringify(tree))).toEqual({
      correspondence: {
        content: { attachments: [{ filename: 'a.pdf' }, { filename: 'b.pdf' }] },
        propertylist: { senderOrgNumber: '910077473' },
      },
      recipients: ['first', 'second'],
    });
  });

  it('reads a key repeated without an index as a list', () => {
    expect(JSON.parse(JSON.stringify(treeFromForm({ recipients: ['a', 'b'] })))).toEqual({
      recipients: ['a', 'b'],
    });
  });

  it('folds JSON member names too, keeping property-list keys', () => {
    expect(
      JSON.parse(
        JSON.stringify(treeFromJson({ Correspondence: { PropertyList: { senderOrgNumber: '1' } } })),
      ),
    ).toEqual({ correspondence: { propertylist: { senderOrgNumber: '1' } } });
  });
});

describe('sandbox Altinn recipients', () => {
  it('normalises organisation and person recipients to lower-case URNs', () => {
    expect(normaliseRecipient('0192:910075946')).toBe('urn:altinn:organization:identifier-no:910075946');
    expect(normaliseRecipient('URN:ALTINN:ORGANIZATION:IDENTIFIER-NO:910075946')).toBe(
      'urn:altinn:organization:identifier-no:910075946',
    );
    expect(normaliseRecipient('01019000083')).toBe('urn:altinn:person:identifier-no:01019000083');
    expect(normaliseRecipient('01019000084')).toBeNull();
    expect(normaliseRecipient('9100759460')).toBeNull();
    expect(normaliseRecipient('urn:altinn:organization:identifier-no:91007594')).toBeNull();
  });

  it('checks both mod-11 control digits', () => {
    expect(isValidNationalIdentityNumber('01019000083')).toBe(true);
    expect(isValidNationalIdentityNumber('01019000093')).toBe(false);
  });
});

describe('sandbox Altinn file matching', () => {
  const meta = (fileName: string) => ({
    fileName,
    isEncrypted: false,
    sendersReference: 'r',
    dataLocationType: 'NewCorrespondenceAttachment' as const,
  });
  const file = (filename: string) => ({ filename, size: 1, truncated: false });

  it('pairs by position when names agree, else by a unique name', () => {
    expect(matchFiles([meta('a.pdf'), meta('b.pdf')], [file('a.pdf'), file('b.pdf')])).toEqual([0, 1]);
    expect(matchFiles([meta('a.pdf'), meta('b.pdf')], [file('b.pdf'), file('a.pdf')])).toEqual([1, 0]);
  });

  it('gives up when a name has no part or several', () => {
    expect(matchFiles([meta('a.pdf')], [file('c.pdf')])).toBeNull();
    expect(
      matchFiles([meta('a.pdf'), meta('b.pdf')], [file('b.pdf'), file('a.pdf'), file('a.pdf')]),
    ).toBeNull();
  });
});
