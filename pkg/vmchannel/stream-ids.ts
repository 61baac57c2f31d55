// Stream ids the host allocates on the agent channel: 1..0x7fffffff, counting up from a random start
// and wrapping to 1 (0 is the event stream). issued() tells a frame for a stream the host opened and
// has since forgotten (a late answer to a timed-out call: dropped) from one for a stream it never
// opened (the guest making ids up: a protocol violation).
const MAX_ID = 0x7fffffff;

export class StreamIds {
  private readonly first: number;
  private nextId: number;
  private count = 0;

  constructor(first: number) {
    if (!Number.isInteger(first) || first < 1 || first > MAX_ID) throw new RangeError(`stream id ${first} outside 1..${MAX_ID}`);
    this.first = first;
    this.nextId = first;
  }

  next(): number {
    const id = this.nextId;
    this.nextId = id >= MAX_ID ? 1 : id + 1;
    if (this.count < MAX_ID) this.count++;
    return id;
  }

  /** Whether next() ever returned id. */
  issued(id: number): boolean {
    if (!Number.isInteger(id) || id < 1 || id > MAX_ID) return false;
    return (id - this.first + MAX_ID) % MAX_ID < this.count;
  }
}
