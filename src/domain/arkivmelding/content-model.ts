/**
 * Content models (XSD sequences and choices with occurrence bounds) compiled to automata: a Thompson NFA over
 * element names, turned into a DFA lazily so each child costs one map lookup. Recovery helpers find the
 * shortest run of elements that would make a document fit, which is how "missing element" problems are named.
 */
import type { GroupParticle, Particle, TypeName } from '../../../schemas/arkivmelding/schema.js';

export interface DfaState {
  readonly id: number;
  readonly accepting: boolean;
  /** Computed on first use; null means the name is not allowed from this state. */
  readonly transitions: Map<string, DfaState | null>;
  readonly nfaStates: readonly number[];
}

/** Largest finite maxOccurs we expand into copies; the arkivmelding schema only uses 1 and unbounded. */
const MAX_EXPANDED_OCCURS = 64;

class Nfa {
  readonly epsilon: number[][] = [];
  readonly edges: Array<Array<[string, number]>> = [];

  state(): number {
    this.epsilon.push([]);
    this.edges.push([]);
    return this.epsilon.length - 1;
  }

  addEpsilon(from: number, to: number): void {
    this.epsilon[from]?.push(to);
  }

  /** Adds `particle` starting at `from`, returning the state reached after it. */
  add(particle: Particle, from: number): number {
    const { min, max } = particle;
    if (max !== 'unbounded' && (max < min || max - min > MAX_EXPANDED_OCCURS)) {
      throw new Error(`Unsupported occurrence bounds ${min}..${max}`);
    }
    let current = from;
    for (let k = 0; k < min; k++) current = this.once(particle, current);
    if (max === 'unbounded') {
      const loop = this.state();
      this.addEpsilon(current, loop);
      const after = this.once(particle, loop);
      this.addEpsilon(after, loop);
      return loop;
    }
    if (max === min) return current;
    const exit = this.state();
    for (let k = min; k < max; k++) {
      this.addEpsilon(current, exit);
      current = this.once(particle, current);
    }
    this.addEpsilon(current, exit);
    return exit;
  }

  private once(particle: Particle, from: number): number {
    if (particle.kind === 'element') {
      const to = this.state();
      this.edges[from]?.push([particle.name, to]);
      return to;
    }
    if (particle.kind === 'sequence') {
      let current = from;
      for (const p of particle.particles) current = this.add(p, current);
      return current;
    }
    const exit = this.state();
    for (const p of particle.particles) this.addEpsilon(this.add(p, from), exit);
    if (particle.particles.length === 0) this.addEpsilon(from, exit);
    return exit;
  }
}

export interface ChoiceBranches {
  /** Names that can start or occur in each branch of one choice that may be taken only once. */
  readonly branches: ReadonlyArray<ReadonlySet<string>>;
}

export class ContentModel {
  readonly start: DfaState;
  /** Element name → declared type (names are unique per model: Element Declarations Consistent). */
  readonly elementTypes = new Map<string, TypeName>();
  /** Names that may legally occur more than once. */
  readonly repeatable = new Set<string>();
  /** Every element name in schema order, first occurrence. */
  readonly order: string[] = [];
  readonly choices: ChoiceBranches[] = [];
  private readonly nfa = new Nfa();
  private readonly accept: number;
  private readonly dfaStates = new Map<string, DfaState>();

  constructor(content: GroupParticle) {
    this.collect(content, false);
    const start = this.nfa.state();
    this.accept = this.nfa.add(content, start);
    this.start = this.dfaState(this.closure([start]));
  }

  next(state: DfaState, name: string): DfaState | null {
    const known = state.transitions.get(name);
    if (known !== undefined) return known;
    let computed: DfaState | null = null;
    if (this.elementTypes.has(name)) {
      const targets: number[] = [];
      for (const s of state.nfaStates) {
        for (const [label, to] of this.nfa.edges[s] ?? []) if (label === name) targets.push(to);
      }
      if (targets.length > 0) computed = this.dfaState(this.closure(targets));
    }
    state.transitions.set(name, computed);
    return computed;
  }

  /** Names allowed next from `state`, in schema order. */
  expected(state: DfaState): string[] {
    return this.order.filter((name) => this.next(state, name) !== null);
  }

  /**
   * The shortest run of elements leading from `from` to a state satisfying `goal`, as one list of
   * alternatives per step (alternatives all keep the run shortest); null when no run exists.
   */
  shortestRun(from: DfaState, goal: (s: DfaState) => boolean): string[][] | null {
    const reachable: DfaState[] = [from];
    const seen = new Set<DfaState>([from]);
    const incoming = new Map<DfaState, DfaState[]>();
    for (let k = 0; k < reachable.length; k++) {
      const s = reachable[k] as DfaState;
      for (const name of this.order) {
        const t = this.next(s, name);
        if (!t) continue;
        const list = incoming.get(t);
        if (list) list.push(s);
        else incoming.set(t, [s]);
        if (!seen.has(t)) {
          seen.add(t);
          reachable.push(t);
        }
      }
    }
    const distance = new Map<DfaState, number>();
    const queue = reachable.filter(goal);
    for (const g of queue) distance.set(g, 0);
    for (let k = 0; k < queue.length; k++) {
      const s = queue[k] as DfaState;
      const d = distance.get(s) ?? 0;
      for (const p of incoming.get(s) ?? []) {
        if (!distance.has(p)) {
          distance.set(p, d + 1);
          queue.push(p);
        }
      }
    }
    const total = distance.get(from);
    if (total === undefined) return null;
    let remaining = total;
    const steps: string[][] = [];
    let current = from;
    while (remaining > 0) {
      const alternatives = this.order.filter((name) => {
        const t = this.next(current, name);
        return t !== null && distance.get(t) === remaining - 1;
      });
      const first = alternatives[0];
      if (first === undefined) return null;
      steps.push(alternatives);
      current = this.next(current, first) as DfaState;
      remaining--;
    }
    return steps;
  }

  private collect(particle: Particle, repeatedAbove: boolean): void {
    const repeats = repeatedAbove || particle.max === 'unbounded' || particle.max > 1;
    if (particle.kind === 'element') {
      if (!this.elementTypes.has(particle.name)) {
        this.elementTypes.set(particle.name, particle.type);
        this.order.push(particle.name);
      } else {
        // A name declared twice in one model can occur twice.
        this.repeatable.add(particle.name);
      }
      if (repeats) this.repeatable.add(particle.name);
      return;
    }
    if (particle.kind === 'choice' && !repeats && particle.particles.length > 1) {
      this.choices.push({ branches: particle.particles.map((p) => namesIn(p)) });
    }
    for (const p of particle.particles) this.collect(p, repeats);
  }

  private closure(states: number[]): number[] {
    const seen = new Set<number>(states);
    const stack = [...states];
    while (stack.length > 0) {
      const s = stack.pop() as number;
      for (const t of this.nfa.epsilon[s] ?? []) {
        if (!seen.has(t)) {
          seen.add(t);
          stack.push(t);
        }
      }
    }
    return [...seen].sort((a, b) => a - b);
  }

  private dfaState(nfaStates: number[]): DfaState {
    const key = nfaStates.join(',');
    let state = this.dfaStates.get(key);
    if (!state) {
      state = {
        id: this.dfaStates.size,
        accepting: nfaStates.includes(this.accept),
        transitions: new Map(),
        nfaStates,
      };
      this.dfaStates.set(key, state);
    }
    return state;
  }
}

function namesIn(particle: Particle): Set<string> {
  if (particle.kind === 'element') return new Set([particle.name]);
  const names = new Set<string>();
  for (const p of particle.particles) for (const n of namesIn(p)) names.add(n);
  return names;
}
