// A SerialPort stand-in for agent tests: the test emits 'data' / 'hostGone' into it, and every frame
// the agent writes is decoded into `frames`.
import { EventEmitter } from 'node:events';
import { FrameDecoder, type Frame } from '../../vmchannel/frame.js';

export class FakePort extends EventEmitter {
  readonly decoder = new FrameDecoder();
  readonly frames: Frame[] = [];
  write(buf: Buffer): Promise<void> {
    this.frames.push(...this.decoder.push(buf));
    return Promise.resolve();
  }
}

/** Polls (5 ms) until cond holds; fails after 5 s (socket and timer work is slow on a loaded machine). */
export async function until(cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > 5000) throw new Error('condition not met in 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
