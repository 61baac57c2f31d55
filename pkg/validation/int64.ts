// proto-loader (longs=String) carries CRI int64 fields as decimal strings; this turns one into a JS
// number for the OCI spec and cgroup files, refusing what a number cannot hold exactly.
import { invalidArgument } from '../errors/errors.js';

/** A CRI int64 (a decimal string) as a JS number; beyond 2^53 it would lose precision on its way into runc's JSON. */
export function criInt(s: string | undefined, what: string): number {
  if (s === undefined || s === '') return 0;
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${what} "${s}" is not an integer`);
  return n;
}
