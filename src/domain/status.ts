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
 * What may follow what. Statuses are a set per message (one of each), not a strict line: a status is new when
 * one of its allowed predecessors is there, nothing FINAL is, and nothing that BLOCKS it is. FEIL may still come
 * after LEVERT; nothing moves a conversation backwards (a late LEVERT after LEST, or SENDT after LEVERT, is
 * refused), and a delivered or read message cannot expire. `null` stands for "no status yet".
 *
 * This table is the one source of truth: the Redis script that writes statuses is generated from it
 * (src/store/lua.ts), and a test checks that both decide every case alike.
 */
export const ALLOWED_AFTER: Readonly<Record<Status, ReadonlyArray<Status | null>>> = {
  OPPRETTET: [null],
  SENDT: ['OPPRETTET'],
  MOTTATT: ['OPPRETTET', 'SENDT'],
  LEVERT: ['OPPRETTET', 'SENDT', 'MOTTATT', 'ANNET'],
  LEST: ['SENDT', 'MOTTATT', 'LEVERT', 'ANNET'],
  FEIL: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'ANNET', 'INNKOMMENDE_MOTTATT'],
  ANNET: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'LEST'],
  INNKOMMENDE_MOTTATT: ['OPPRETTET'],
  INNKOMMENDE_LEVERT: ['INNKOMMENDE_MOTTATT'],
  LEVETID_UTLOPT: ['OPPRETTET', 'SENDT', 'MOTTATT', 'LEVERT', 'INNKOMMENDE_MOTTATT'],
};

/** Once one of these is set, nothing may follow. */
export const FINAL: readonly Status[] = ['FEIL', 'LEVETID_UTLOPT', 'INNKOMMENDE_LEVERT'];

/**
 * Statuses that rule out a later one although a predecessor allows it: the later steps of the DPV line
 * (nothing goes back to an earlier step), and a delivered or read message cannot expire (LEVERT finishes the
 * conversation, as in the reference).
 */
export const BLOCKED_BY: Readonly<Partial<Record<Status, readonly Status[]>>> = {
  SENDT: ['MOTTATT', 'LEVERT', 'LEST'],
  MOTTATT: ['LEVERT', 'LEST'],
  LEVERT: ['LEST'],
  LEVETID_UTLOPT: ['LEVERT', 'LEST'],
};

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

/** LEVETID_UTLOPT's description for an outgoing message, with the last failed attempt's reason when there was one. */
export function ttlExpiredDescription(lastError?: string, sentToAltinn = false): string {
  // Handed to Altinn but never published: sending it again could give the receiver two copies.
  if (sentToAltinn) return TTL_EXPIRED_AFTER_SENDT_DESCRIPTION;
  return lastError
    ? `${TTL_EXPIRED_DESCRIPTION}. Siste forsøk mot Altinn feilet: ${lastError}`
    : TTL_EXPIRED_DESCRIPTION;
}

export const TTL_EXPIRED_AFTER_SENDT_DESCRIPTION =
  'Levetiden for meldingen er utgått før Altinn leverte den til mottakeren. Meldingen er mottatt av Altinn, ' +
  'men ikke publisert: undersøk forsendelsen i Altinn før den eventuelt sendes på nytt';

/**
 * Statuses after which a delivered confidential message is no longer waiting to be opened: read, or gone from the
 * receiver's inbox (purged: ANNET), or failed. They end the unread watch and take it off the unread report.
 */
export const UNREAD_WATCH_ENDS: readonly Status[] = ['LEST', 'ANNET', 'FEIL', 'LEVETID_UTLOPT'];
