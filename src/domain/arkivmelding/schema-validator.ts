/**
 * Validates a read document against a SchemaDefinition (by default our arkivmelding schema) the way an XSD
 * validator does: namespaces, element order, occurrences, choices, xsi:type, simple-type facets and lax
 * content under xs:anyType. Unlike a typical validator it keeps going after a mistake and names every one.
 */
import {
  arkivmeldingSchema,
  type GroupParticle,
  type SchemaDefinition,
  TYPE_PREFIXES,
  type TypeName,
  XSI_NS,
} from '../../../schemas/arkivmelding/schema.js';
import type { ProblemItem } from '../errors.js';
import { PROBLEM_CODES } from './codes.js';
import { ContentModel, type DfaState } from './content-model.js';
import { BUILTIN_TYPES, trimXmlWhitespace, type ValueProblem } from './simple-types.js';
import type { SourceText } from './source-text.js';
import { elementText, isNCName, resolvePrefix, type XmlElement } from './xml-reader.js';

/** Beyond this many problems the list ends with one TooManyProblems item; a client fixes the first ones first. */
export const MAX_PROBLEMS = 500;

const ANY_TYPE: TypeName = 'xs:anyType';
/** Schema-instance attributes every element may carry (xsi:nil is reported separately). */
const XSI_ATTRIBUTES = new Set(['type', 'nil', 'schemaLocation', 'noNamespaceSchemaLocation']);
const QNAME_RE = /^(?:([^\s:]+):)?([^\s:]+)$/;

interface CompiledComplexType {
  readonly name: TypeName;
  readonly base: TypeName;
  readonly model: ContentModel;
}

interface CompiledSimpleType {
  readonly name: TypeName;
  /** Whitespace handling and lexical check of the nearest built-in type. */
  readonly trims: boolean;
  readonly check?: (value: string) => ValueProblem | null;
  readonly enumeration?: readonly string[];
  readonly patterns: readonly RegExp[];
  readonly length?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** No lexical check and no facets: every value is valid. */
  readonly unconstrained: boolean;
}

type ResolvedType =
  | { kind: 'any' }
  | { kind: 'complex'; type: CompiledComplexType }
  | { kind: 'simple'; type: CompiledSimpleType };

/** The schema prepared for validation: content models compiled, simple types flattened. */
export class CompiledSchema {
  readonly namespace: string;
  private readonly complex = new Map<TypeName, CompiledComplexType>();
  private readonly simple = new Map<TypeName, CompiledSimpleType>();

  constructor(readonly definition: SchemaDefinition) {
    this.namespace = definition.targetNamespace;
    for (const name of Object.keys(definition.complexTypes) as TypeName[]) {
      const def = definition.complexTypes[name];
      if (!def) continue;
      this.complex.set(name, {
        name,
        base: def.extends ?? ANY_TYPE,
        model: new ContentModel(this.content(name)),
      });
    }
  }

  /** The type named by a namespace URI and local name, or null when there is none. */
  lookup(ns: string, local: string): TypeName | null {
    const prefix = (Object.keys(TYPE_PREFIXES) as Array<keyof typeof TYPE_PREFIXES>).find(
      (p) => TYPE_PREFIXES[p] === ns,
    );
    if (!prefix) return null;
    const name: TypeName = `${prefix}:${local}`;
    if (prefix === 'xs') return Object.hasOwn(BUILTIN_TYPES, local) ? name : null;
    return this.complex.has(name) || Object.hasOwn(this.definition.simpleTypes, name) ? name : null;
  }

  baseOf(name: TypeName): TypeName | null {
    const complex = this.complex.get(name);
    if (complex) return complex.base;
    const simple = this.definition.simpleTypes[name];
    if (simple) return simple.restricts;
    if (name.startsWith('xs:')) {
      const base = BUILTIN_TYPES[name.slice(3)]?.base;
      return base ? `xs:${base}` : null;
    }
    return null;
  }

  isDerivedFrom(name: TypeName, ancestor: TypeName): boolean {
    for (let t: TypeName | null = name; t; t = this.baseOf(t)) if (t === ancestor) return true;
    return false;
  }

  /** Complex types in the target namespace usable where `ancestor` is declared (itself included). */
  derivedComplexTypes(ancestor: TypeName): string[] {
    return [...this.complex.keys()].filter((t) => this.isDerivedFrom(t, ancestor)).map((t) => t.slice(3));
  }

  private readonly withDerived = new Set<TypeName>();

  /** True when some complex type extends `name` (only those can be meant by an xsi:type). */
  hasDerivedTypes(name: TypeName): boolean {
    if (this.withDerived.size === 0) for (const t of this.complex.values()) this.withDerived.add(t.base);
    return this.withDerived.has(name);
  }

  /** Complex types derived from `ancestor` (not itself), least derived first. */
  strictlyDerived(ancestor: TypeName): CompiledComplexType[] {
    const depth = (t: TypeName) => {
      let d = 0;
      for (let b: TypeName | null = t; b && b !== ancestor; b = this.baseOf(b)) d++;
      return d;
    };
    return [...this.complex.values()]
      .filter((t) => t.name !== ancestor && this.isDerivedFrom(t.name, ancestor))
      .sort((a, b) => depth(a.name) - depth(b.name));
  }

  resolve(name: TypeName): ResolvedType {
    if (name === ANY_TYPE) return { kind: 'any' };
    const complex = this.complex.get(name);
    if (complex) return { kind: 'complex', type: complex };
    return { kind: 'simple', type: this.simpleType(name) };
  }

  private content(name: TypeName): GroupParticle {
    const def = this.definition.complexTypes[name];
    if (!def) throw new Error(`Unknown complex type ${name}`);
    if (!def.extends) return def.content;
    return { kind: 'sequence', min: 1, max: 1, particles: [this.content(def.extends), def.content] };
  }

  private simpleType(name: TypeName): CompiledSimpleType {
    const cached = this.simple.get(name);
    if (cached) return cached;
    let enumeration: readonly string[] | undefined;
    const patterns: RegExp[] = [];
    let length: number | undefined;
    let minLength: number | undefined;
    let maxLength: number | undefined;
    let t: TypeName = name;
    for (;;) {
      if (t.startsWith('xs:')) break;
      const def = this.definition.simpleTypes[t];
      if (!def) throw new Error(`Unknown simple type ${t}`);
      // The nearest enumeration wins; patterns and length facets of every step all apply.
      enumeration ??= def.enumeration;
      if (def.pattern !== undefined) patterns.push(new RegExp(`^(?:${def.pattern})$`, 'u'));
      length ??= def.length;
      minLength = Math.max(minLength ?? 0, def.minLength ?? 0) || undefined;
      maxLength = Math.min(maxLength ?? Number.POSITIVE_INFINITY, def.maxLength ?? Number.POSITIVE_INFINITY);
      if (maxLength === Number.POSITIVE_INFINITY) maxLength = undefined;
      t = def.restricts;
    }
    const builtin = t.slice(3);
    const info = BUILTIN_TYPES[builtin];
    if (!info) throw new Error(`Unknown built-in type ${t}`);
    const compiled: CompiledSimpleType = {
      name,
      trims: info.trims,
      ...(info.check ? { check: info.check } : {}),
      ...(enumeration ? { enumeration } : {}),
      patterns,
      ...(length !== undefined ? { length } : {}),
      ...(minLength !== undefined ? { minLength } : {}),
      ...(maxLength !== undefined ? { maxLength } : {}),
      unconstrained:
        !info.check &&
        !enumeration &&
        patterns.length === 0 &&
        length === undefined &&
        minLength === undefined &&
        maxLength === undefined,
    };
    this.simple.set(name, compiled);
    return compiled;
  }
}

const compiledSchemas = new WeakMap<SchemaDefinition, CompiledSchema>();

export function compileSchema(definition: SchemaDefinition = arkivmeldingSchema): CompiledSchema {
  let compiled = compiledSchemas.get(definition);
  if (!compiled) {
    compiled = new CompiledSchema(definition);
    compiledSchemas.set(definition, compiled);
  }
  return compiled;
}

class TooManyProblems extends Error {}

/** Validates `root` and returns every problem found (capped at MAX_PROBLEMS). */
export function validateAgainstSchema(
  root: XmlElement,
  source: SourceText,
  definition: SchemaDefinition = arkivmeldingSchema,
): ProblemItem[] {
  const run = new SchemaRun(compileSchema(definition), source);
  try {
    run.validateRoot(root);
  } catch (e) {
    if (!(e instanceof TooManyProblems)) throw e;
    run.problems.push({
      code: PROBLEM_CODES.tooManyProblems,
      message: `More than ${MAX_PROBLEMS} problems were found; fix these and validate again to see the rest.`,
    });
  }
  return run.problems;
}

/** The expanded name an element's xsi:type refers to, or null. */
export function xsiTypeOf(el: XmlElement): { ns: string; local: string } | null {
  for (const a of el.attributes) {
    if (a.ns === XSI_NS && a.local === 'type') {
      const m = QNAME_RE.exec(a.value);
      if (!m) return null;
      const ns = resolvePrefix(el.scope, m[1] ?? '');
      return ns === null ? null : { ns, local: m[2] ?? '' };
    }
  }
  return null;
}

const quoteList = (names: readonly string[]): string => {
  const quoted = names.map((n) => `'${n}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
};

const snippet = (text: string): string => {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
};

/** How `local` in namespace `ns` is written in el's scope: unprefixed when it is the default namespace. */
function qnameIn(el: XmlElement, ns: string, local: string): string {
  if (resolvePrefix(el.scope, '') === ns) return local;
  for (let s = el.scope; s; s = s.parent) {
    if (s.uri === ns && s.prefix !== '' && resolvePrefix(el.scope, s.prefix) === ns)
      return `${s.prefix}:${local}`;
  }
  return local;
}

/** An element named with its type when xsi:type makes them differ, e.g. 'mappe' (saksmappe). */
function describe(el: XmlElement, type: CompiledComplexType): string {
  const local = type.name.slice(3);
  return local === el.local ? `'${el.local}'` : `'${el.local}' (${local})`;
}

function hasXsiTypeAttribute(el: XmlElement): boolean {
  for (const a of el.attributes) if (a.ns === XSI_NS && a.local === 'type') return true;
  return false;
}

/** `/arkivmelding/mappe[1]/tittel`: a step is indexed when it may repeat or has same-named siblings. */
function formatPath(
  elements: readonly XmlElement[],
  repeatable: (k: number) => boolean,
  extra?: string,
): string {
  let out = '';
  for (let k = 0; k < elements.length; k++) {
    const el = elements[k] as XmlElement;
    const parent = elements[k - 1];
    let step = el.local;
    if (parent) {
      const siblings = parent.children.filter((c) => c.local === el.local);
      if (repeatable(k) || siblings.length > 1) step += `[${siblings.indexOf(el) + 1}]`;
    }
    out += `/${step}`;
  }
  return extra === undefined ? out : `${out}/${extra}`;
}

/** The path of the last of `elements` (root first), with the schema deciding which steps may repeat. */
export function pathOfElements(
  elements: readonly XmlElement[],
  definition: SchemaDefinition = arkivmeldingSchema,
): string {
  const schema = compileSchema(definition);
  const root = elements[0];
  let type: TypeName | undefined =
    root && root.ns === schema.namespace ? definition.globalElements[root.local] : undefined;
  const repeatable = [false];
  for (const el of elements.slice(1)) {
    const resolved = type ? schema.resolve(type) : null;
    const model = resolved?.kind === 'complex' ? resolved.type.model : null;
    repeatable.push(model?.repeatable.has(el.local) ?? false);
    type = model?.elementTypes.get(el.local);
    const xsi = xsiTypeOf(el);
    const named = xsi ? schema.lookup(xsi.ns, xsi.local) : null;
    if (type && named && schema.isDerivedFrom(named, type)) type = named;
  }
  return formatPath(elements, (k) => repeatable[k] ?? false);
}

class SchemaRun {
  readonly problems: ProblemItem[] = [];
  /** Elements from the root down to the one being validated; a path is built from them only for a problem. */
  private readonly pathElements: XmlElement[] = [];
  /** For each element on the path, the content model it was found in (null at the root and in lax content). */
  private readonly pathModels: Array<ContentModel | null> = [];

  constructor(
    private readonly schema: CompiledSchema,
    private readonly source: SourceText,
  ) {}

  private path(extra?: string): string {
    const els = this.pathElements;
    return formatPath(
      els,
      (k) => this.pathModels[k]?.repeatable.has((els[k] as XmlElement).local) ?? false,
      extra,
    );
  }

  private enter(el: XmlElement, model: ContentModel | null): void {
    this.pathElements.push(el);
    this.pathModels.push(model);
  }

  private leave(): void {
    this.pathElements.pop();
    this.pathModels.pop();
  }

  private report(code: string, message: string, path: string, pos: number, rejectedValue?: string): void {
    if (this.problems.length >= MAX_PROBLEMS) throw new TooManyProblems();
    const { line, column } = this.source.locate(pos);
    this.problems.push({
      path,
      line,
      column,
      code,
      message,
      ...(rejectedValue === undefined ? {} : { rejectedValue }),
    });
  }

  validateRoot(root: XmlElement): void {
    this.enter(root, null);
    const globalType =
      root.ns === this.schema.namespace ? this.schema.definition.globalElements[root.local] : undefined;
    if (globalType) {
      this.validateElement(root, globalType, false);
      return;
    }
    const expected = Object.keys(this.schema.definition.globalElements);
    const sameName = expected.includes(root.local);
    this.report(
      sameName ? PROBLEM_CODES.wrongNamespace : PROBLEM_CODES.wrongRoot,
      sameName
        ? `The root element <${root.qname}> is in ${root.ns ? `namespace ${root.ns}` : 'no namespace'}; it must be in namespace ${this.schema.namespace} (add xmlns="${this.schema.namespace}").`
        : `The root element must be <${expected.join('> or <')}> in namespace ${this.schema.namespace}; found <${root.qname}>.`,
      this.path(),
      root.pos,
    );
  }

  /**
   * Validates the element on top of the path against its declared type. `undeclared` is set for elements met
   * in lax content (under xs:anyType) that only carry an xsi:type: they have no declaration to be nillable.
   */
  private validateElement(el: XmlElement, declared: TypeName, undeclared: boolean): void {
    let effective = declared;
    let xsiType: 'none' | 'ok' | 'failed' = 'none';
    for (const a of el.attributes) {
      if (a.ns !== XSI_NS) continue;
      if (a.local === 'type') {
        const resolved = this.xsiType(el, a.value, a.pos, declared);
        xsiType = resolved ? 'ok' : 'failed';
        effective = resolved ?? declared;
      } else if (a.local === 'nil' && !undeclared) {
        this.report(
          PROBLEM_CODES.notNillable,
          `xsi:nil is not allowed on '${el.local}' because it is not nillable; remove the attribute and give '${el.local}' a value (or leave the element out if it is optional).`,
          this.path(),
          a.pos,
        );
      }
    }
    let type = this.schema.resolve(effective);
    if (type.kind === 'complex' && xsiType !== 'ok' && this.schema.hasDerivedTypes(type.type.name)) {
      // A missing or broken xsi:type is one mistake; judge the content by the type it evidently is.
      const fitting = this.fittingDerivedType(el, type.type);
      if (fitting) {
        if (xsiType === 'none') {
          const local = fitting.name.slice(3);
          this.report(
            PROBLEM_CODES.missingXsiType,
            `'${el.local}' contains elements of ${local} but has no xsi:type; add xsi:type="${qnameIn(el, this.schema.namespace, local)}" to it.`,
            this.path(),
            el.pos,
          );
        }
        type = { kind: 'complex', type: fitting };
      }
    }
    // No complex type in the schema declares attributes; xs:anyType accepts any.
    if (type.kind !== 'any') {
      for (const a of el.attributes) {
        if (a.ns === XSI_NS && XSI_ATTRIBUTES.has(a.local)) continue;
        this.report(
          PROBLEM_CODES.attributeNotAllowed,
          `Attribute '${a.qname}' is not allowed on '${el.local}'; remove it.`,
          this.path(),
          a.pos,
          a.value,
        );
      }
    }
    if (type.kind === 'any') {
      this.validateLax(el);
    } else if (type.kind === 'complex') {
      if (el.textPos !== -1) {
        this.report(
          PROBLEM_CODES.textNotAllowed,
          el.hasCdata
            ? `'${el.local}' may only contain elements, but it contains a CDATA section; remove it or move the text into the right child element.`
            : `'${el.local}' may only contain elements, but it contains the text '${snippet(elementText(el, this.source))}'; remove the text or move it into the right child element.`,
          this.path(),
          el.textPos,
        );
      }
      this.validateContent(el, type.type);
    } else {
      const child = el.children[0];
      if (child) {
        this.report(
          PROBLEM_CODES.elementContentNotAllowed,
          `'${el.local}' must contain a plain value, not child elements; remove <${child.qname}>.`,
          this.path(),
          child.pos,
        );
      }
      this.validateValue(el, type.type);
    }
  }

  /** A type derived from `declared` whose content model knows every child that `declared` does not. */
  private fittingDerivedType(el: XmlElement, declared: CompiledComplexType): CompiledComplexType | null {
    const unknown = new Set<string>();
    for (const c of el.children) {
      if (c.ns === this.schema.namespace && !declared.model.elementTypes.has(c.local)) unknown.add(c.local);
    }
    if (unknown.size === 0) return null;
    return (
      this.schema
        .strictlyDerived(declared.name)
        .find((t) => [...unknown].every((name) => t.model.elementTypes.has(name))) ?? null
    );
  }

  /** Resolves an xsi:type value; reports and returns null when it cannot be used here. */
  private xsiType(el: XmlElement, value: string, pos: number, declared: TypeName): TypeName | null {
    const hint = () => {
      const allowed = declared === ANY_TYPE ? [] : this.schema.derivedComplexTypes(declared);
      return allowed.length > 0 ? ` Use ${quoteList(allowed)}.` : '';
    };
    const m = QNAME_RE.exec(value);
    const prefix = m?.[1] ?? '';
    const local = m?.[2] ?? '';
    if (!m || (prefix !== '' && !isNCName(prefix)) || !isNCName(local)) {
      this.report(
        PROBLEM_CODES.unknownXsiType,
        `xsi:type="${value}" on '${el.local}' is not a valid type name (no spaces, at most one prefix).${hint()}`,
        this.path(),
        pos,
        value,
      );
      return null;
    }
    const ns = resolvePrefix(el.scope, prefix);
    if (ns === null) {
      this.report(
        PROBLEM_CODES.unknownXsiType,
        `xsi:type="${value}" on '${el.local}' uses the prefix '${prefix}', which is not declared; declare it or use the prefix bound to ${this.schema.namespace}.`,
        this.path(),
        pos,
        value,
      );
      return null;
    }
    const type = this.schema.lookup(ns, local);
    if (!type) {
      const wrongNamespace = ns !== this.schema.namespace && this.schema.lookup(this.schema.namespace, local);
      this.report(
        PROBLEM_CODES.unknownXsiType,
        wrongNamespace
          ? `xsi:type="${value}" on '${el.local}' refers to '${local}' in ${ns ? `namespace ${ns}` : 'no namespace'}; the type is in ${this.schema.namespace}, so write it with the prefix bound to that namespace (or make it the default namespace).`
          : `xsi:type="${value}" on '${el.local}' is not a type defined by the arkivmelding schema.${hint()}`,
        this.path(),
        pos,
        value,
      );
      return null;
    }
    if (!this.schema.isDerivedFrom(type, declared)) {
      this.report(
        PROBLEM_CODES.xsiTypeNotDerived,
        `xsi:type="${value}" cannot be used on '${el.local}'.${hint() || ` '${el.local}' needs a value of its declared type.`}`,
        this.path(),
        pos,
        value,
      );
      return null;
    }
    return type;
  }

  /** Content of xs:anyType: anything goes, except elements the schema knows globally or typed with xsi:type. */
  private validateLax(el: XmlElement): void {
    for (const child of el.children) {
      this.enter(child, null);
      const global =
        child.ns === this.schema.namespace ? this.schema.definition.globalElements[child.local] : undefined;
      if (global) this.validateElement(child, global, false);
      else if (hasXsiTypeAttribute(child)) this.validateElement(child, ANY_TYPE, true);
      else this.validateLax(child);
      this.leave();
    }
  }

  private validateContent(el: XmlElement, type: CompiledComplexType): void {
    const model = type.model;
    const children = el.children;
    // Names accepted so far and names already reported as misplaced; only needed once something is wrong.
    let consumed: Set<string> | null = null;
    let misplaced: Set<string> | null = null;
    let state: DfaState = model.start;
    let lastAccepted: string | null = null;
    for (let k = 0; k < children.length; k++) {
      const child = children[k] as XmlElement;
      const name = child.local;
      const declared = model.elementTypes.get(name);
      this.enter(child, model);
      if (child.ns !== this.schema.namespace) {
        this.report(
          declared ? PROBLEM_CODES.wrongNamespace : PROBLEM_CODES.unknownElement,
          declared
            ? `<${child.qname}> is in ${child.ns ? `namespace ${child.ns}` : 'no namespace'}; every arkivmelding element must be in ${this.schema.namespace}.`
            : `<${child.qname}> (${child.ns ? `namespace ${child.ns}` : 'no namespace'}) is not allowed in ${describe(el, type)}; remove it.`,
          this.path(),
          child.pos,
        );
        this.leave();
        // Reported once here; its content would only repeat the namespace mistake.
        const next = declared ? model.next(state, name) : null;
        if (next) {
          state = next;
          consumed?.add(name);
          lastAccepted = name;
        }
        continue;
      }
      if (!declared) {
        const expected = model.expected(state);
        this.report(
          PROBLEM_CODES.unknownElement,
          `'${name}' is not an element of ${describe(el, type)}; remove it or check the spelling${expected.length ? ` (allowed at this point: ${quoteList(expected)})` : ''}.`,
          this.path(),
          child.pos,
        );
        this.leave();
        continue;
      }
      const next = model.next(state, name);
      if (next) {
        state = next;
        consumed?.add(name);
        lastAccepted = name;
        this.validateElement(child, declared, false);
        this.leave();
        continue;
      }
      consumed ??= new Set(children.slice(0, k).map((c) => c.local));
      const run = model.shortestRun(state, (s) => model.next(s, name) !== null);
      const later = new Set(children.slice(k + 1).map((c) => c.local));
      // If what is needed first comes later, this child is out of order; otherwise the needed elements are missing.
      if (run?.every((alternatives) => !alternatives.some((a) => later.has(a)))) {
        this.leave();
        for (const alternatives of run) {
          // An element reported as misplaced earlier is present, just elsewhere: do not also call it missing.
          if (!alternatives.some((a) => misplaced?.has(a))) {
            this.reportMissing(describe(el, type), alternatives, `before '${name}'`, child.pos);
          }
          state = model.next(state, alternatives[0] as string) as DfaState;
          consumed.add(alternatives[0] as string);
        }
        state = model.next(state, name) as DfaState;
        consumed.add(name);
        lastAccepted = name;
        this.enter(child, model);
        this.validateElement(child, declared, false);
        this.leave();
        continue;
      }
      misplaced ??= new Set();
      misplaced.add(name);
      this.reportOutOfPlace(describe(el, type), model, name, consumed, state, child.pos);
      this.validateElement(child, declared, false);
      this.leave();
    }
    if (!state.accepting) {
      const run = model.shortestRun(state, (s) => s.accepting) ?? [];
      for (const alternatives of run) {
        if (alternatives.some((a) => misplaced?.has(a))) continue;
        this.reportMissing(
          describe(el, type),
          alternatives,
          lastAccepted ? `after '${lastAccepted}'` : 'as its first child',
          el.pos,
        );
        lastAccepted = alternatives[0] as string;
      }
    }
  }

  private reportMissing(parent: string, alternatives: string[], where: string, pos: number): void {
    const one = alternatives.length === 1;
    this.report(
      PROBLEM_CODES.missingElement,
      one
        ? `Required element '${alternatives[0]}' is missing in ${parent}; add it ${where}.`
        : `${parent} needs one of ${quoteList(alternatives)}; add one ${where}.`,
      one ? this.path(alternatives[0]) : this.path(),
      pos,
    );
  }

  /** Reports the child on top of the path, which is declared here but cannot come at this point. */
  private reportOutOfPlace(
    parent: string,
    model: ContentModel,
    name: string,
    consumed: ReadonlySet<string>,
    state: DfaState,
    pos: number,
  ): void {
    const alternativesTo = new Set<string>();
    for (const choice of model.choices) {
      const mine = choice.branches.findIndex((b) => b.has(name));
      if (mine === -1) continue;
      choice.branches.forEach((b, i) => {
        if (i !== mine) for (const n of b) alternativesTo.add(n);
      });
      const other = [...consumed].find((c) => choice.branches.some((b, i) => i !== mine && b.has(c)));
      if (other) {
        this.report(
          PROBLEM_CODES.choiceConflict,
          `'${name}' cannot be combined with '${other}' in ${parent}: the schema allows one or the other here; keep only one of them.`,
          this.path(),
          pos,
        );
        return;
      }
    }
    if (consumed.has(name) && !model.repeatable.has(name)) {
      this.report(
        PROBLEM_CODES.duplicateElement,
        `'${name}' may occur only once in ${parent}; remove the extra one.`,
        this.path(),
        pos,
      );
      return;
    }
    // Neighbours in schema order, skipping elements that are alternatives to this one.
    const order = model.order.filter((n) => n === name || !alternativesTo.has(n));
    const at = order.indexOf(name);
    const before = order[at - 1];
    const after = order[at + 1];
    const placement = [before ? `after '${before}'` : '', after ? `before '${after}'` : '']
      .filter(Boolean)
      .join(' and ');
    const expected = model.expected(state);
    this.report(
      PROBLEM_CODES.misplacedElement,
      `'${name}' is out of order in ${parent}; in the schema order it comes ${placement || 'elsewhere'}${expected.length ? ` (allowed at this point: ${quoteList(expected)})` : ''}.`,
      this.path(),
      pos,
    );
  }

  private validateValue(el: XmlElement, type: CompiledSimpleType): void {
    // Plain strings (most values) accept any text: nothing to read.
    if (type.unconstrained) return;
    const raw = elementText(el, this.source);
    const value = type.trims ? trimXmlWhitespace(raw) : raw;
    const pos = el.textPos === -1 ? el.pos : el.textPos;
    const lexical = type.check?.(value);
    if (lexical) {
      this.report(lexical.code, `In '${el.local}': ${lexical.message}`, this.path(), pos, value);
      return;
    }
    if (type.enumeration && !type.enumeration.includes(value)) {
      this.report(
        PROBLEM_CODES.invalidEnumeration,
        `'${value}' is not an allowed value of '${el.local}'; use exactly one of ${quoteList(type.enumeration)}.`,
        this.path(),
        pos,
        value,
      );
      return;
    }
    for (const pattern of type.patterns) {
      if (!pattern.test(value)) {
        this.report(
          PROBLEM_CODES.patternMismatch,
          type.name === 'am:GUID'
            ? `'${value}' in '${el.local}' is not a GUID; write a UUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301 (optionally in braces), with no spaces.`
            : `'${value}' in '${el.local}' does not have the required format.`,
          this.path(),
          pos,
          value,
        );
        return;
      }
    }
    if (type.length === undefined && type.minLength === undefined && type.maxLength === undefined) return;
    const length = [...value].length;
    const min = type.length ?? type.minLength ?? 0;
    const max = type.length ?? type.maxLength ?? Number.POSITIVE_INFINITY;
    if (length < min || length > max) {
      const limit =
        type.length !== undefined
          ? `exactly ${type.length}`
          : [
              type.minLength !== undefined ? `at least ${type.minLength}` : '',
              type.maxLength !== undefined ? `at most ${type.maxLength}` : '',
            ]
              .filter(Boolean)
              .join(' and ');
      this.report(
        PROBLEM_CODES.lengthViolation,
        `'${el.local}' is ${length} characters long; it must be ${limit} characters.`,
        this.path(),
        pos,
        value,
      );
    }
  }
}
