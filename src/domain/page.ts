import { z } from 'zod';
import { Errors } from './errors.js';

/** Paging and sorting as Spring Data reads them: page (0-based), size, sort=prop[,asc|desc]. */
export const pageQuerySchema = z.object({
  page: z.coerce.number().int().min(0).max(1_000_000).default(0),
  size: z.coerce.number().int().min(1).max(2000).default(10),
  sort: z.union([z.string(), z.array(z.string())]).optional(),
});
export type PageQuery = z.output<typeof pageQuerySchema>;

export interface SortSpec {
  property: string;
  direction: 'asc' | 'desc';
}

export interface Paging {
  page: number;
  size: number;
  sort: SortSpec | null;
  /** True when the client gave a sort or the endpoint has a default one (Spring reports both as sorted). */
  sorted: boolean;
}

export function resolvePaging(q: PageQuery, allowed: readonly string[], fallback: SortSpec | null): Paging {
  const raw = Array.isArray(q.sort) ? q.sort[0] : q.sort;
  let sort = fallback;
  if (raw) {
    const [property = '', dir = 'asc'] = raw.split(',').map((s) => s.trim());
    if (!allowed.includes(property)) {
      throw Errors.validation(`sort: '${property}' is not sortable here. Sortable: ${allowed.join(', ')}`, {
        errors: [
          { field: 'sort', code: 'OneOf', message: `sortable: ${allowed.join(', ')}`, rejectedValue: raw },
        ],
      });
    }
    const d = dir.toLowerCase();
    if (d !== 'asc' && d !== 'desc') {
      throw Errors.validation(`sort: direction must be asc or desc, got '${dir}'`);
    }
    sort = { property, direction: d };
  }
  return { page: q.page, size: q.size, sort, sorted: sort !== null };
}

export interface Page<T> {
  content: T[];
  pageable: {
    sort: { sorted: boolean; unsorted: boolean; empty: boolean };
    offset: number;
    pageNumber: number;
    pageSize: number;
    unpaged: false;
    paged: true;
  };
  last: boolean;
  totalPages: number;
  totalElements: number;
  size: number;
  number: number;
  sort: { sorted: boolean; unsorted: boolean; empty: boolean };
  numberOfElements: number;
  first: boolean;
  empty: boolean;
}

/** The serialized Spring Data PageImpl the reference returns from every list endpoint. */
export function toPage<T>(content: T[], totalElements: number, p: Paging): Page<T> {
  const sort = { sorted: p.sorted, unsorted: !p.sorted, empty: !p.sorted };
  const totalPages = Math.ceil(totalElements / p.size);
  return {
    content,
    pageable: {
      sort,
      offset: p.page * p.size,
      pageNumber: p.page,
      pageSize: p.size,
      unpaged: false,
      paged: true,
    },
    last: p.page + 1 >= totalPages,
    totalPages,
    totalElements,
    size: p.size,
    number: p.page,
    sort: { ...sort },
    numberOfElements: content.length,
    first: p.page === 0,
    empty: content.length === 0,
  };
}

export function pageSchema<T extends z.ZodType>(item: T, id: string) {
  const sortState = z.object({ sorted: z.boolean(), unsorted: z.boolean(), empty: z.boolean() });
  return z
    .object({
      content: z.array(item),
      pageable: z.object({
        sort: sortState,
        offset: z.number(),
        pageNumber: z.number(),
        pageSize: z.number(),
        unpaged: z.boolean(),
        paged: z.boolean(),
      }),
      last: z.boolean(),
      totalPages: z.number(),
      totalElements: z.number(),
      size: z.number(),
      number: z.number(),
      sort: sortState,
      numberOfElements: z.number(),
      first: z.boolean(),
      empty: z.boolean(),
    })
    .meta({ id });
}

/** Sorts then slices; `key` extracts the sort value for a property. */
export function sortAndSlice<T>(items: T[], p: Paging, key: (item: T, prop: string) => string | number): T[] {
  if (p.sort) {
    const { property, direction } = p.sort;
    const sign = direction === 'asc' ? 1 : -1;
    items.sort((a, b) => {
      const x = key(a, property);
      const y = key(b, property);
      return x < y ? -sign : x > y ? sign : 0;
    });
  }
  return items.slice(p.page * p.size, p.page * p.size + p.size);
}
