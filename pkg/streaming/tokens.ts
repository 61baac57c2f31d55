// Single-use, short-lived tokens naming a validated streaming request, as kubelet's
// cri-streaming request cache does: the CRI call validates and registers, the HTTP
// request redeems the token exactly once.
import { randomBytes } from 'node:crypto';
import type { StdioOptions } from './backend.js';

export type StreamRequest =
  | ({ kind: 'exec'; containerId: string; cmd: string[] } & StdioOptions)
  | ({ kind: 'attach'; containerId: string } & StdioOptions)
  | { kind: 'portforward'; podSandboxId: string; ports: number[] };

/** kubelet caps in-flight requests at 1000 too. */
export const MAX_IN_FLIGHT = 1000;

export class TooManyRequestsError extends Error {}

export class TokenCache {
  private readonly entries = new Map<string, { req: StreamRequest; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  insert(req: StreamRequest): string {
    this.gc();
    if (this.entries.size >= MAX_IN_FLIGHT) throw new TooManyRequestsError(`too many in-flight streaming requests (${MAX_IN_FLIGHT})`);
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { req, expires: this.now() + this.ttlMs });
    return token;
  }

  /** Returns the request and forgets the token; undefined when unknown, used or expired. */
  consume(token: string): StreamRequest | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expires > this.now() ? e.req : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private gc(): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.expires <= t) this.entries.delete(k);
  }
}
