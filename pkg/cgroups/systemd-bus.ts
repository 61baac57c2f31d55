// A small client for systemd's manager over the D-Bus system bus (org.freedesktop.systemd1): start
// and stop transient units and wait for their jobs, set unit properties, read the version. The
// wire protocol is dbus-next's (systemd-dbus.ts, loaded only when the systemd driver is opened: a
// cgroupfs daemon never pays for dbus-next); the transport is an interface so tests can play systemd.
import { existsSync } from 'node:fs';
import type { UnitProperty } from './systemd-properties.js';

export const SYSTEMD_BUS_NAME = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
/** What sd_booted() checks: systemd is PID 1 when this directory exists. */
export const SYSTEMD_RUN_DIR = '/run/systemd/system';
export const SYSTEM_BUS_SOCKET = '/run/dbus/system_bus_socket';

export interface DbusCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

export interface DbusSignal {
  path: string;
  interface: string;
  member: string;
  body: unknown[];
}

/** A D-Bus error reply, e.g. org.freedesktop.systemd1.UnitExists. */
export class DbusCallError extends Error {
  constructor(
    readonly dbusName: string,
    message: string,
  ) {
    super(message);
    this.name = 'DbusCallError';
  }
}

export interface DbusTransport {
  /** Bumped on every (re)connection: match rules and subscriptions belong to one connection. */
  readonly generation?: number;
  call(msg: DbusCall): Promise<unknown[]>;
  onSignal(handler: (s: DbusSignal) => void): void;
  close(): void;
  /** A "v" value for call bodies (dbus-next's Variant); without it, a plain { signature, value }. */
  variant?(signature: string, value: unknown): unknown;
}

/** How a systemd job ended (JobRemoved's result): only "done" is success. */
export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped' | (string & {});

export class SystemdError extends Error {
  constructor(
    message: string,
    /** The D-Bus error name, or "job:<result>" for a job that did not end "done". */
    readonly code: string,
  ) {
    super(message);
    this.name = 'SystemdError';
  }
}

export interface SystemdClientOptions {
  /** Per D-Bus call (systemd answers in ms; 10 s means the bus or systemd is stuck). */
  callTimeoutMs?: number;
  /** Per job: runc waits 30 s for a unit's start job, and so do we. */
  jobTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SystemdError(`${what}: no answer from systemd within ${ms} ms`, 'timeout')), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Jobs whose JobRemoved came before the call that created them returned: kept this many. */
const EARLY_RESULTS_MAX = 1024;

export class SystemdClient {
  private variant(signature: string, value: unknown): unknown {
    return this.bus.variant ? this.bus.variant(signature, value) : { signature, value };
  }

  private readonly waiters = new Map<string, (r: JobResult) => void>();
  private readonly early = new Map<string, JobResult>();
  private subscribed: Promise<void> | undefined;
  private subscribedGeneration: number | undefined;
  private readonly callTimeoutMs: number;
  private readonly jobTimeoutMs: number;

  constructor(
    private readonly bus: DbusTransport,
    opts: SystemdClientOptions = {},
  ) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 30_000;
    bus.onSignal((s) => {
      if (s.interface !== MANAGER_IFACE || s.member !== 'JobRemoved') return;
      const [, job, , result] = s.body as [number, string, string, string];
      const w = this.waiters.get(job);
      if (w) {
        this.waiters.delete(job);
        w(result);
        return;
      }
      this.early.set(job, result);
      if (this.early.size > EARLY_RESULTS_MAX) this.early.delete(this.early.keys().next().value as string);
    });
  }

  private async manager(member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    try {
      return await withTimeout(this.bus.call({ destination: SYSTEMD_BUS_NAME, path: MANAGER_PATH, interface: MANAGER_IFACE, member, signature, body }), this.callTimeoutMs, member);
    } catch (e) {
      if (e instanceof DbusCallError) throw new SystemdError(`${member}: ${e.message}`, e.dbusName);
      throw e;
    }
  }

  /** JobRemoved is only sent to subscribers, and the bus routes it only to a matching rule. */
  private subscribe(): Promise<void> {
    if (this.subscribedGeneration !== this.bus.generation) this.subscribed = undefined;
    this.subscribedGeneration = this.bus.generation;
    this.subscribed ??= (async () => {
      const rule = `type='signal',sender='${SYSTEMD_BUS_NAME}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;
      await withTimeout(
        this.bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] }),
        this.callTimeoutMs,
        'AddMatch',
      );
      await this.manager('Subscribe', '', []);
    })();
    this.subscribed.catch(() => {
      this.subscribed = undefined;
    });
    return this.subscribed;
  }

  private waitJob(job: string, what: string): Promise<void> {
    const settle = (r: JobResult) => {
      if (r !== 'done') throw new SystemdError(`${what}: systemd job ended "${r}"`, `job:${r}`);
    };
    const early = this.early.get(job);
    if (early !== undefined) {
      this.early.delete(job);
      settle(early);
      return Promise.resolve();
    }
    const p = new Promise<JobResult>((resolve) => this.waiters.set(job, resolve));
    return withTimeout(p, this.jobTimeoutMs, what)
      .then(settle)
      .finally(() => this.waiters.delete(job));
  }

  /** systemd's version string ("252.39-1~deb12u1"): proves the manager answers. */
  async version(): Promise<string> {
    const body = await withTimeout(
      this.bus.call({
        destination: SYSTEMD_BUS_NAME,
        path: MANAGER_PATH,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        signature: 'ss',
        body: [MANAGER_IFACE, 'Version'],
      }),
      this.callTimeoutMs,
      'Version',
    ).catch((e: unknown) => {
      throw e instanceof DbusCallError ? new SystemdError(`Version: ${e.message}`, e.dbusName) : e;
    });
    const v = body[0] as { value?: unknown } | undefined;
    return String(v?.value ?? '');
  }

  /** StartTransientUnit(mode "fail"), waiting for the job. Throws SystemdError (code UnitExists when it is there). */
  async startTransientUnit(name: string, props: UnitProperty[]): Promise<void> {
    await this.subscribe();
    const body = await this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, 'fail', props.map((p) => [p.name, this.variant(p.signature, p.value)]), []]);
    await this.waitJob(String(body[0]), `start ${name}`);
  }

  /** StopUnit(mode "replace"), waiting for the job; a unit that is not loaded is already stopped. */
  async stopUnit(name: string): Promise<void> {
    await this.subscribe();
    let body: unknown[];
    try {
      body = await this.manager('StopUnit', 'ss', [name, 'replace']);
    } catch (e) {
      if (e instanceof SystemdError && e.code === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw e;
    }
    await this.waitJob(String(body[0]), `stop ${name}`);
  }

  /** SetUnitProperties(runtime=true): the change lasts until the unit goes away. */
  async setUnitProperties(name: string, props: UnitProperty[]): Promise<void> {
    await this.manager('SetUnitProperties', 'sba(sv)', [name, true, props.map((p) => [p.name, this.variant(p.signature, p.value)])]);
  }

  close(): void {
    this.bus.close();
  }
}

/** Why this host cannot have systemd manage cgroups, judged from files alone (no bus traffic). */
export function systemdHostProblem(runDir = SYSTEMD_RUN_DIR, busSocket = process.env.DBUS_SYSTEM_BUS_ADDRESS ? undefined : SYSTEM_BUS_SOCKET): string | undefined {
  if (!existsSync(runDir)) return `systemd is not the init system here (${runDir} is missing)`;
  if (busSocket && !existsSync(busSocket)) return `the D-Bus system bus is not running (${busSocket} is missing; install and start dbus)`;
  return undefined;
}
