// A DbusTransport that plays systemd's manager for unit tests: units are names in a set, every
// job is answered with JobRemoved (after the reply, or before it when `signalFirst`), and the
// calls are recorded for assertions. Not a D-Bus implementation: bodies are dbus-next's values.
import { DbusCallError, type DbusCall, type DbusSignal, type DbusTransport } from '../systemd-bus.js';

export interface FakeSystemdOptions {
  /** Result of every job ("done" unless told otherwise), per unit name. */
  jobResult?: (unit: string, member: string) => string;
  /** JobRemoved arrives before the method reply (systemd may run a job that fast). */
  signalFirst?: boolean;
  /** Never send JobRemoved (a stuck job). */
  silent?: boolean;
  version?: string;
}

export interface RecordedProperty {
  name: string;
  signature: string;
  value: unknown;
}

export class FakeSystemd implements DbusTransport {
  readonly calls: DbusCall[] = [];
  readonly units = new Map<string, RecordedProperty[]>();
  private handlers: ((s: DbusSignal) => void)[] = [];
  private jobs = 0;
  closed = false;
  /** Bump to play a reconnection (a new connection has no match rules or subscription). */
  generation = 1;

  constructor(private readonly opts: FakeSystemdOptions = {}) {}

  onSignal(handler: (s: DbusSignal) => void): void {
    this.handlers.push(handler);
  }

  close(): void {
    this.closed = true;
  }

  /** The calls of one member, in order. */
  members(member: string): DbusCall[] {
    return this.calls.filter((c) => c.member === member);
  }

  private emitJobRemoved(job: string, unit: string, result: string): void {
    for (const h of this.handlers) h({ path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'JobRemoved', body: [this.jobs, job, unit, result] });
  }

  private job(unit: string, member: string): unknown[] {
    const job = `/org/freedesktop/systemd1/job/${++this.jobs}`;
    const result = this.opts.jobResult?.(unit, member) ?? 'done';
    if (!this.opts.silent) {
      if (this.opts.signalFirst) this.emitJobRemoved(job, unit, result);
      else setImmediate(() => this.emitJobRemoved(job, unit, result));
    }
    return [job];
  }

  async call(m: DbusCall): Promise<unknown[]> {
    this.calls.push(m);
    const body = m.body ?? [];
    switch (m.member) {
      case 'AddMatch':
      case 'Subscribe':
        return [];
      case 'Get':
        return [{ signature: 's', value: this.opts.version ?? '252.39-1~deb12u1' }];
      case 'StartTransientUnit': {
        const name = body[0] as string;
        if (this.units.has(name)) throw new DbusCallError('org.freedesktop.systemd1.UnitExists', `Unit ${name} was already loaded or has a fragment file.`);
        const props = (body[2] as [string, { signature: string; value: unknown }][]).map(([n, v]) => ({ name: n, signature: v.signature, value: v.value }));
        this.units.set(name, props);
        return this.job(name, m.member);
      }
      case 'StopUnit': {
        const name = body[0] as string;
        if (!this.units.has(name)) throw new DbusCallError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not loaded.`);
        this.units.delete(name);
        return this.job(name, m.member);
      }
      case 'SetUnitProperties': {
        const name = body[0] as string;
        if (!this.units.has(name)) throw new DbusCallError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not loaded.`);
        const props = (body[2] as [string, { signature: string; value: unknown }][]).map(([n, v]) => ({ name: n, signature: v.signature, value: v.value }));
        this.units.set(name, [...this.units.get(name)!, ...props]);
        return [];
      }
      default:
        throw new DbusCallError('org.freedesktop.DBus.Error.UnknownMethod', `no method ${m.member}`);
    }
  }
}

/** A property's value by name (the last one set wins, as in systemd). */
export function prop(props: RecordedProperty[] | undefined, name: string): unknown {
  return [...(props ?? [])].reverse().find((p) => p.name === name)?.value;
}
