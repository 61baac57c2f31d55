// The test-only hostile agent does what each scenario says, and what it sends is what the host's
// channel validation refuses (pkg/vmchannel/guest-input.ts, client.ts).
import { describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameDecoder, FrameKind, type Frame } from '../vmchannel/frame.js';
import { DEFAULT_WINDOW, RecvWindow } from '../vmchannel/flow.js';
import { decodeGuestEvent, GuestProtocolError } from '../vmchannel/guest-input.js';
import type { SerialPort } from './port.js';
import { hostileScenarioOf } from './hostile-mode.js';

const share = mkdtempSync(join(tmpdir(), 'hostile-share-'));
vi.mock('./sandbox-setup.js', () => ({ SHARE_DIR: share }));
const { HostileAgent, SYMLINK_TARGETS } = await import('./hostile.js');

class FakePort extends EventEmitter {
  readonly decoder = new FrameDecoder();
  readonly frames: Frame[] = [];
  write(buf: Buffer): Promise<void> {
    this.frames.push(...this.decoder.push(buf));
    // A real port takes its time: let the flood loop yield.
    return new Promise((r) => setImmediate(r));
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > 5000) throw new Error('condition not met in 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function started(scenario: Parameters<typeof hostileScenarioOf>[0]): { port: FakePort; logs: string[] } {
  const port = new FakePort();
  const logs: string[] = [];
  const h = new HostileAgent(hostileScenarioOf(scenario)!, port as unknown as SerialPort, (m) => logs.push(m));
  h.onServed(7, { req: 'follow_logs', follow_logs: { container_id: 'c1', offset: '0' } } as never, { empty: {} });
  h.onServed(8, { req: 'start_container', start_container: { container_id: 'c1' } } as never, { start_container: { pid: 5 } });
  return { port, logs };
}

describe('hostileScenarioOf', () => {
  it('reads bulkhead.hostile=<known scenario> from a cmdline', () => {
    expect(hostileScenarioOf('console=ttyS0 panic=1 bulkhead.hostile=flood\n')).toBe('flood');
    expect(hostileScenarioOf('console=ttyS0 panic=1')).toBeUndefined();
    expect(hostileScenarioOf('bulkhead.hostile=rm-rf')).toBeUndefined();
  });
});

describe('HostileAgent', () => {
  it('junk-frame: an EVENT the host cannot decode, after the first start', async () => {
    const { port } = started('bulkhead.hostile=junk-frame');
    expect(port.frames).toEqual([]);
    await until(() => port.frames.length > 0);
    expect(port.frames[0]!.kind).toBe(FrameKind.Event);
    expect(() => decodeGuestEvent(port.frames[0]!.payload)).toThrow(GuestProtocolError);
  });

  it('window-overrun: more log DATA than the host window allows, with no WINDOW from the host', async () => {
    const { port } = started('bulkhead.hostile=window-overrun');
    await until(() => port.frames.some((f) => f.payload.length > DEFAULT_WINDOW));
    const data = port.frames.filter((f) => f.stream === 7 && f.kind === FrameKind.Data);
    // A host that stops consuming (no WINDOW frames) is overrun after its first window...
    const paused = new RecvWindow(DEFAULT_WINDOW, () => undefined);
    expect(data.map((f) => paused.received(f.payload.length - 1))).toContain(false);
    // ...one that keeps up, by the last frame, bigger than any credit it can have given.
    const keepingUp = new RecvWindow(DEFAULT_WINDOW, () => undefined);
    const ok = data.map((f) => {
      const fits = keepingUp.received(f.payload.length - 1);
      if (fits) keepingUp.consumed(f.payload.length - 1);
      return fits;
    });
    expect(ok.indexOf(false)).toBe(ok.length - 1);
  });

  it('flood: well-formed events until the host goes', async () => {
    const { port, logs } = started('bulkhead.hostile=flood');
    await until(() => port.frames.length >= 3000);
    expect(decodeGuestEvent(port.frames[0]!.payload).oom?.container_id).toBe('c1');
    port.emit('hostGone');
    await until(() => logs.some((l) => /host gone after \d+ flood events/.test(l)));
  });

  it('symlinks: links land where the guest can write, and the attempt is logged per dir', () => {
    const vol = join(share, 'c1', 'vol0');
    mkdirSync(join(share, 'c1', 'rootfs'), { recursive: true });
    mkdirSync(vol, { recursive: true });
    try {
      const port = new FakePort();
      const logs: string[] = [];
      const h = new HostileAgent('symlinks', port as unknown as SerialPort, (m) => logs.push(m));
      const spec = { mounts: [{ destination: '/data', source: vol, options: ['rbind', 'rw'] }, { destination: '/ro', source: join(share, 'c1', 'vol1'), options: ['rbind', 'ro'] }] };
      h.onServed(3, { req: 'create_container', create_container: { container_id: 'c1', spec_json: JSON.stringify(spec) } } as never, { empty: {} });
      expect(readlinkSync(join(vol, 'hostile-5'))).toBe(SYMLINK_TARGETS[5]);
      expect(lstatSync(join(share, 'c1', 'rootfs', 'rootfs')).isSymbolicLink()).toBe(true);
      // Four dirs tried (root, container dir, rootfs, the rw volume), the ro one left alone.
      expect(logs.filter((l) => l.startsWith('hostile symlinks: '))).toHaveLength(4);
      expect(readdirSync(share)).toContain('vol0');
    } finally {
      rmSync(share, { recursive: true, force: true });
    }
  });
});
