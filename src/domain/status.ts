/** Message statuses, as the reference names them. */
export const STATUSES = [
  'OPPRETTET',
  'SENDT',
  'MOTTATT',
  'LEVERT',
  'LEST',
  'FEIL',
  'ANNET',
  'INNKOMMENDE_MOTTATT',
  'INNKOMMENDE_LEVERT',
  'LEVETID_UTLOPT',
] as const;
export type Status = (typeof STATUSES)[number];

/**
 * What may follow what. Statuses are a set per message (one of each), not a strict line:
 * FEIL may still come after LEVERT, and a late LEVERT may arrive after LEST.
 * `null` stands for "no status yet".
 */
const ALLOWED_AFTER: Record<Status, ReadonlyArray<Status | null>> = {
  OPPRETTET: [null],
  SENDT: ['OPPRETTET'],
  MOTTATT: ['OPPRETTET', 'SENDT'],
  LEVERT: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEST', 'ANNET'],
  LEST: ['SENDT', 'MOTTATT', 'LEVERT', 'ANNET'],
  FEIL: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'ANNET', 'INNKOMMENDE_MOTTATT'],
  ANNET: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'LEST'],
  INNKOMMENDE_MOTTATT: ['OPPRETTET'],
  INNKOMMENDE_LEVERT: ['INNKOMMENDE_MOTTATT'],
  LEVETID_UTLOPT: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'INNKOMMENDE_MOTTATT'],
};

/** Once one of these is set, nothing but the listed exceptions may follow. */
const FINAL: ReadonlySet<Status> = new Set(['FEIL', 'LEVETID_UTLOPT', 'INNKOMMENDE_LEVERT']);

/**
 * Statuses that rule out a later one although a predecessor allows it: a delivered or read message cannot
 * expire (LEVERT finishes the conversation, as in the reference).
 */
const BLOCKED_BY: Partial<Record<Status, readonly Status[]>> = { LEVETID_UTLOPT: ['LEST', 'LEVERT'] };

export type TransitionVerdict = 'new' | 'duplicate' | 'refused';

/** Decides whether `next` may be added to a message that already has `current`. */
export function transition(current: ReadonlySet<Status>, next: Status): TransitionVerdict {
  if (current.has(next)) return 'duplicate';
  for (const f of FINAL) if (current.has(f)) return 'refused';
  if (BLOCKED_BY[next]?.some((b) => current.has(b))) return 'refused';
  const allowed = ALLOWED_AFTER[next];
  if (current.size === 0) return allowed.includes(null) ? 'new' : 'refused';
  for (const s of current) if (allowed.includes(s)) return 'new';
  return 'refused';
}

/** Side effects on the conversation, as in the reference. */
export function conversationEffects(status: Status): { finished?: true; pollable?: false } {
  switch (status) {
    case 'LEVERT':
      return { finished: true };
    case 'LEST':
    case 'FEIL':
    case 'LEVETID_UTLOPT':
    case 'INNKOMMENDE_LEVERT':
      return { finished: true, pollable: false };
    default:
      return {};
  }
}

export const TTL_EXPIRED_DESCRIPTION = 'Levetiden for meldingen er utgått. Må sendes på nytt';
