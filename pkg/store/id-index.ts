// Full 64-hex ids, resolvable by any unique prefix (crictl prints and accepts truncated ids,
// as containerd and CRI-O do).
import { randomBytes } from 'node:crypto';
import { invalidArgument, notFound } from '../errors/errors.js';

export function newId(): string {
  return randomBytes(32).toString('hex');
}

const ID_CHARS = /^[0-9a-f]{1,64}$/;

export class IdIndex<T> {
  private readonly items = new Map<string, T>();

  constructor(private readonly kind: string) {}

  add(id: string, item: T): void {
    this.items.set(id, item);
  }

  delete(id: string): void {
    this.items.delete(id);
  }

  /** Exact id or unique prefix; undefined when nothing matches. Ambiguous prefixes throw InvalidArgument. */
  find(idOrPrefix: string): T | undefined {
    const exact = this.items.get(idOrPrefix);
    if (exact !== undefined) return exact;
    if (!ID_CHARS.test(idOrPrefix)) return undefined;
    let found: T | undefined;
    let count = 0;
    for (const [id, item] of this.items) {
      if (id.startsWith(idOrPrefix)) {
        found = item;
        count++;
      }
    }
    if (count > 1) throw invalidArgument(`${this.kind} id prefix "${idOrPrefix}" is ambiguous`);
    return found;
  }

  /** Like find, but NotFound when missing (empty id: InvalidArgument). */
  get(idOrPrefix: string): T {
    if (!idOrPrefix) throw invalidArgument(`${this.kind} id must not be empty`);
    const item = this.find(idOrPrefix);
    if (item === undefined) throw notFound(`${this.kind} "${idOrPrefix}" not found`);
    return item;
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  get size(): number {
    return this.items.size;
  }
}
