import { Errors, type ProblemItem } from './errors.js';

/** Webhook subscriptions as the reference defines them, plus the `unread` event for unopened confidential post. */
export const RESOURCES = ['all', 'messages'] as const;
export const EVENTS = ['all', 'status', 'unread'] as const;
export const FILTER_NAMES = ['status', 'serviceIdentifier', 'direction'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

/** Parsed filter: name → accepted values (upper case); parts are AND-ed, values OR-ed. */
export type SubscriptionFilter = Partial<Record<FilterName, string[]>>;

export interface SubscriptionInput {
  name?: string | null;
  pushEndpoint?: string | null;
  resource?: string | null;
  event?: string | null;
  filter?: string | null;
  secret?: string | null;
  id?: unknown;
}

const PART = /^(\w+)=(.+)$/;

/** `status=FEIL,LEVETID_UTLOPT&direction=OUTGOING`; the problems name every unknown filter. */
export function parseFilter(raw: string): { filter: SubscriptionFilter; problems: string[] } {
  const filter: SubscriptionFilter = {};
  const problems: string[] = [];
  const unknown: string[] = [];
  for (const part of raw.split('&')) {
    const m = PART.exec(part.trim());
    if (!m) {
      problems.push(`'${part}' is not name=value[,value…]`);
      continue;
    }
    const name = FILTER_NAMES.find((n) => n.toLowerCase() === m[1]!.toLowerCase());
    if (!name) {
      unknown.push(m[1]!);
      continue;
    }
    const values = m[2]!
      .split(',')
      .map((v) => v.trim().toUpperCase())
      .filter(Boolean);
    if (!values.length) problems.push(`'${part}' has no value`);
    filter[name] = [...(filter[name] ?? []), ...values];
  }
  if (unknown.length) {
    problems.unshift(
      `unknown filter name${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (known: ${FILTER_NAMES.join(', ')})`,
    );
  }
  return { filter, problems };
}

/** What an event is matched on. */
export interface EventFacts {
  event: 'status' | 'unread';
  status: string;
  serviceIdentifier: string;
  direction: string;
}

export function matches(
  sub: { resource: string; event: string; filter?: string | undefined },
  facts: EventFacts,
): boolean {
  if (sub.resource !== 'all' && sub.resource !== 'messages') return false;
  if (sub.event !== 'all' && sub.event !== facts.event) return false;
  if (!sub.filter) return true;
  const { filter } = parseFilter(sub.filter);
  return (Object.entries(filter) as [FilterName, string[]][]).every(([name, values]) =>
    values.includes(facts[name].toUpperCase()),
  );
}

/** Push endpoints are called from inside the service: http(s) only, and never with credentials in the URL. */
function endpointProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials; use the subscription secret instead';
  if (raw.length > 2000) return 'must be at most 2000 characters';
  return null;
}

const oneOf = (field: string, value: unknown, allowed: readonly string[]): ProblemItem => ({
  field,
  code: 'OneOf',
  message: `${field}: '${String(value)}' is not expected. Allowed values are: [${allowed.join(', ')}]`,
  rejectedValue: value,
});

/** Validates a create (every required field) or an update (only the fields given); throws one 400 listing all. */
export function validateSubscription(input: SubscriptionInput, mode: 'create' | 'update'): void {
  const problems: ProblemItem[] = [];
  const need = (field: keyof SubscriptionInput) => {
    const v = input[field];
    if (mode === 'create' && (v === undefined || v === null || v === '')) {
      problems.push({ field, code: 'NotNull', message: `${field}: must not be empty` });
      return false;
    }
    return v !== undefined && v !== null;
  };
  if (mode === 'create' && input.id !== undefined && input.id !== null) {
    problems.push({ field: 'id', code: 'Null', message: 'id: must be null; the service assigns it' });
  }
  if (need('name') && (input.name!.trim() === '' || input.name!.length > 200)) {
    problems.push({ field: 'name', code: 'Size', message: 'name: must be 1 to 200 characters' });
  }
  if (need('pushEndpoint')) {
    const p = endpointProblem(input.pushEndpoint!);
    if (p) {
      problems.push({
        field: 'pushEndpoint',
        code: 'URL',
        message: `pushEndpoint: ${p}`,
        rejectedValue: p.includes('credentials') ? '(hidden)' : input.pushEndpoint,
      });
    }
  }
  if (need('resource') && !(RESOURCES as readonly string[]).includes(input.resource!)) {
    problems.push(oneOf('resource', input.resource, RESOURCES));
  }
  if (need('event') && !(EVENTS as readonly string[]).includes(input.event!)) {
    problems.push(oneOf('event', input.event, EVENTS));
  }
  if (input.filter) {
    const { problems: fp } = parseFilter(input.filter);
    for (const p of fp) {
      problems.push({
        field: 'filter',
        code: 'WebhookFilter',
        message: `filter: ${p}`,
        rejectedValue: input.filter,
      });
    }
  }
  if (
    input.secret !== undefined &&
    input.secret !== null &&
    input.secret !== '' &&
    (input.secret.length < 16 || input.secret.length > 256)
  ) {
    problems.push({ field: 'secret', code: 'Size', message: 'secret: must be 16 to 256 characters' });
  }
  if (problems.length) {
    throw Errors.validation(problems.map((p) => p.message).join('; '), { errors: problems });
  }
}

/** How long something has waited, in Norwegian: "3 døgn og 4 timer". */
export function waitedText(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const parts: string[] = [];
  if (days) parts.push(`${days} døgn`);
  if (hours) parts.push(`${hours} ${hours === 1 ? 'time' : 'timer'}`);
  if (!days && minutes) parts.push(`${minutes} ${minutes === 1 ? 'minutt' : 'minutter'}`);
  if (!parts.length) parts.push(`${Math.floor(ms / 1000)} sekunder`);
  return parts.join(' og ');
}

/** The unread notice's description: how long, and the likely reason (nobody at the receiver has the access). */
export function unreadDescription(waitedMs: number, receiverIdentifier: string, resource: string): string {
  return (
    `Den taushetsbelagte meldingen ble levert til ${receiverIdentifier} i Altinn for ${waitedText(waitedMs)} siden ` +
    `og er ennå ikke åpnet. Det kan bety at ingen hos mottakeren har tilgangen som trengs for å åpne den ` +
    `(tilgang til tjenesten «${resource}» i Altinn). Ta kontakt med mottakeren, eller send brevet på annen måte.`
  );
}
