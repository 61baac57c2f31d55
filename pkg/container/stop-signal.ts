// A container's stop signal, from the CRI enum (kubelet: "SIGRTMINPLUS3") or the image's
// STOPSIGNAL (Docker: "SIGTERM", "TERM", "15", "SIGRTMIN+3"), as one signal number that both pod
// kinds send. The rules are moby's ParseSignal (what containerd and runc use): a number, or a
// name with or without "SIG" in any case; real-time signals count from SIGRTMIN = 34 (glibc's,
// since NPTL keeps 32 and 33) to SIGRTMAX = 64.
import { constants } from 'node:os';

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;
export const SIGTERM = 15;

export class UnknownSignalError extends Error {
  constructor(readonly signal: string) {
    super(`unknown signal "${signal}" (a name such as SIGTERM, TERM or SIGRTMIN+3, or a number 1-${SIGRTMAX})`);
    this.name = 'UnknownSignalError';
  }
}

// Linux names beyond Node's table: SIGCLD is SIGCHLD's System V alias (in the CRI enum).
const ALIASES: Record<string, number> = { CLD: 17 };

/** The signal number a stop signal names; throws UnknownSignalError. */
export function parseStopSignal(sig: string): number {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw new UnknownSignalError(sig);
  }
  const name = sig.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)(?:(?:\+|PLUS)(\d+)|(?:-|MINUS)(\d+))?$/.exec(name);
  if (rt) {
    const n = rt[1] === 'MIN' ? SIGRTMIN + Number(rt[2] ?? 0) - Number(rt[3] ?? 0) : SIGRTMAX + Number(rt[2] ?? 0) - Number(rt[3] ?? 0);
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    throw new UnknownSignalError(sig);
  }
  const n = (constants.signals as Record<string, number | undefined>)[`SIG${name}`] ?? ALIASES[name];
  if (n === undefined) throw new UnknownSignalError(sig);
  return n;
}

const PRIMARY: Record<number, string> = {};
for (const [name, n] of Object.entries(constants.signals as Record<string, number>)) if (!['SIGIOT', 'SIGPOLL'].includes(name)) PRIMARY[n] ??= name;

/**
 * The CRI Signal enum name of a signal number (ContainerStatus.stop_signal): "SIGKILL",
 * "SIGRTMINPLUS3", "SIGRTMAXMINUS2". The enum stops at SIGRTMIN+15 and SIGRTMAX-14, which covers
 * 34-64; 32 and 33 have no name there (undefined).
 */
export function criSignalName(n: number): string | undefined {
  if (PRIMARY[n]) return PRIMARY[n];
  if (n === SIGRTMIN) return 'SIGRTMIN';
  if (n === SIGRTMAX) return 'SIGRTMAX';
  if (n > SIGRTMIN && n <= SIGRTMIN + 15) return `SIGRTMINPLUS${n - SIGRTMIN}`;
  if (n > SIGRTMIN + 15 && n < SIGRTMAX) return `SIGRTMAXMINUS${SIGRTMAX - n}`;
  return undefined;
}

/** The form a container record keeps: the CRI enum name ("9" → "SIGKILL"); throws UnknownSignalError. */
export function canonicalStopSignal(sig: string): string {
  const n = parseStopSignal(sig);
  return criSignalName(n) ?? String(n);
}

/** ContainerStatus.stop_signal of a stored stop signal; RUNTIME_DEFAULT when it has no enum name. */
export function statusStopSignal(stored: string): string {
  try {
    return criSignalName(parseStopSignal(stored)) ?? 'RUNTIME_DEFAULT';
  } catch {
    return 'RUNTIME_DEFAULT'; // a record from before stop signals were checked
  }
}
