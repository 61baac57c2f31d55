// CRI timestamps are int64 nanoseconds since the epoch; proto-loader carries int64 as decimal strings.
const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Wall-clock nanoseconds with hrtime resolution, as a decimal string. */
export function nowNs(): string {
  return (originNs + process.hrtime.bigint()).toString();
}

export function msToNs(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** Parses an RFC 3339 time (e.g. runc/conmon output) into nanoseconds, keeping sub-ms digits. */
export function rfc3339ToNs(s: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return msToNs(Date.parse(s) || 0);
  const secs = BigInt(Date.parse(`${m[1]}${m[3]}`) / 1000);
  const frac = BigInt(((m[2] ?? '') + '000000000').slice(0, 9));
  return (secs * 1_000_000_000n + frac).toString();
}
