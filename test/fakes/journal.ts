// One ordered log of the calls the fakes received ("controller.stopSandbox <pod id>",
// "tasks.stopContainer <container id>", "network.tearDown <pod id>"), shared by every fake of a
// test so that ordering across them (containers stopped before their sandbox) can be asserted.
export class Journal {
  readonly entries: string[] = [];

  record(what: string, id: string): void {
    this.entries.push(`${what} ${id}`);
  }

  /** The entries naming `what` (e.g. "tasks.stopContainer"), ids included. */
  of(what: string): string[] {
    return this.entries.filter((e) => e.startsWith(`${what} `));
  }

  /** Index of the first entry `what id`; -1 when absent. */
  indexOf(what: string, id: string): number {
    return this.entries.indexOf(`${what} ${id}`);
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** Failures a test arms per method name: the next call of that method rejects with the error. */
export class Failures {
  private readonly armed = new Map<string, Error>();

  failNext(method: string, err: Error = new Error(`${method} failed (armed by the test)`)): void {
    this.armed.set(method, err);
  }

  /** Throws the armed error of `method` once. */
  check(method: string): void {
    const err = this.armed.get(method);
    if (!err) return;
    this.armed.delete(method);
    throw err;
  }
}
