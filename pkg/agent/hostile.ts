// A hostile guest agent, for tests of the host only (e2e/reliability/hostile-guest.spec.ts). It serves
// the host normally, so the pod starts, and then misbehaves as the scenario says. Shipping it in
// every guest image is harmless: the guest is untrusted anyway (root in the guest, a privileged
// container or a kernel exploit, can replace the agent with anything, this included), so the host
// must survive all of it whether or not the code is there; it runs only when the root-owned handler
// config puts bulkhead.hostile=<scenario> on the guest kernel's cmdline (hostile-mode.ts).
//   junk-frame      an EVENT frame whose payload is no protobuf, 1.5 s after the first container starts
//   window-overrun  the first container's log stream gets DATA with no regard for the host's window:
//                   4 MiB in 64 KiB frames as fast as the port takes them, then one frame larger
//                   than the whole window (the host absorbs the first part as long as it keeps up:
//                   it returns credit as it consumes, so only a host that paused sees the overrun)
//   flood           well-formed EVENT frames on stream 0 (the one stream without flow control) as
//                   fast as the port takes them, from 1.5 s after the first start until the host leaves
//   symlinks        after each CreateContainer, symlinks to host-looking paths in every dir of the pod
//                   share it can reach (share root, the container's dir, its rootfs, its volumes)
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_CHUNK, EVENT_STREAM, FrameKind, encodeData, encodeFrame } from '../vmchannel/frame.js';
import { DEFAULT_WINDOW } from '../vmchannel/flow.js';
import { EventCodec, type Request__Output, type Response } from '../vmchannel/codec.js';
import { formatCriLines } from './cri-log.js';
import type { SerialPort } from './port.js';
import type { HostileScenario } from './hostile-mode.js';
import { SHARE_DIR } from './sandbox-setup.js';

/** The attack waits this long after the first StartContainer answer, so the host sees the pod running first. */
const ATTACK_DELAY_MS = 1500;
/** What a window-ignoring guest sends in one go: 16 × the 256 KiB window the host announces. */
const OVERRUN_BYTES = 16 * DEFAULT_WINDOW;
/** Flood batch: ~78 KB per port write (78-byte OOM events; bigger batches only delay the agent's own answers). */
const FLOOD_EVENTS_PER_WRITE = 1000;
/**
 * Where the planted links point: the host's root and the places a careless host would write through,
 * plus a dir the e2e spec creates on the host and checks stays untouched.
 */
export const SYMLINK_TARGETS = ['/', '/etc', '/root', '/var/lib/bulkhead', '/run/bulkhead', '/tmp/bulkhead-hostile-sentinel'];
/** Names the host itself uses in the share (a link there would be followed by a careless host's mkdir). */
const SHARE_NAMES = ['rootfs', 'vol0', 'vol1', 'vol0-sub0', 'shm'];

export class HostileAgent {
  private attacked = false;
  private hostGone = false;
  /** The follow_logs stream of each container the host follows. */
  private readonly logStreams = new Map<string, number>();

  constructor(
    private readonly scenario: HostileScenario,
    private readonly port: SerialPort,
    private readonly log: (msg: string) => void,
  ) {
    port.on('hostGone', () => {
      this.hostGone = true;
    });
    port.on('data', () => {
      this.hostGone = false;
    });
    log(`HOSTILE MODE: ${scenario} (a test agent: bulkhead.hostile on the kernel cmdline)`);
  }

  /** Called once the agent answered a request (AgentServer's onServed). */
  onServed(stream: number, req: Request__Output, res: Response): void {
    if ('error' in res && res.error) return;
    if (req.req === 'follow_logs' && req.follow_logs) this.logStreams.set(req.follow_logs.container_id, stream);
    if (req.req === 'create_container' && req.create_container && this.scenario === 'symlinks') this.plantSymlinks(req.create_container.container_id, req.create_container.spec_json);
    if (req.req === 'start_container' && req.start_container && !this.attacked) {
      this.attacked = true;
      const id = req.start_container.container_id;
      // Said again here: a VM restored from a snapshot (start_from) booted, and said it first, in its
      // template, whose console is not this pod's.
      this.log(`HOSTILE MODE: ${this.scenario}: attacking container ${id} in ${ATTACK_DELAY_MS} ms`);
      setTimeout(() => void this.attack(id), ATTACK_DELAY_MS);
    }
  }

  private async attack(containerId: string): Promise<void> {
    switch (this.scenario) {
      case 'junk-frame':
        // 4 bytes 0xff: a varint that never ends; protobuf decoding throws on it.
        this.log('hostile: sending an EVENT frame that is no protobuf');
        await this.port.write(encodeFrame(EVENT_STREAM, FrameKind.Event, Buffer.alloc(4, 0xff)));
        return;
      case 'window-overrun': {
        const stream = this.logStreams.get(containerId);
        if (stream === undefined) {
          this.log(`hostile: no log stream for ${containerId}: nothing to overrun`);
          return;
        }
        this.log(`hostile: sending ${OVERRUN_BYTES} log bytes on stream ${stream} without waiting for window`);
        const line = Buffer.from(formatCriLines('stdout', 'x'.repeat(200) + '\n', true));
        const chunk = Buffer.concat(Array.from({ length: Math.floor(DATA_CHUNK / line.length) }, () => line));
        for (let sent = 0; sent < OVERRUN_BYTES && !this.hostGone; sent += chunk.length) {
          await this.port.write(encodeFrame(stream, FrameKind.Data, encodeData(1, chunk)));
        }
        // More than any credit the host can have given: its window is DEFAULT_WINDOW at most.
        const big = Buffer.concat(Array.from({ length: Math.ceil((DEFAULT_WINDOW + 1) / line.length) }, () => line));
        this.log(`hostile: one ${big.length}-byte DATA frame on stream ${stream}`);
        await this.port.write(encodeFrame(stream, FrameKind.Data, encodeData(1, big)));
        return;
      }
      case 'flood':
        await this.flood(containerId);
        return;
      case 'symlinks':
        return;
    }
  }

  private async flood(containerId: string): Promise<void> {
    const ev = encodeFrame(EVENT_STREAM, FrameKind.Event, EventCodec.encode({ oom: { container_id: containerId, at_ns: '1' } }));
    const batch = Buffer.concat(Array.from({ length: FLOOD_EVENTS_PER_WRITE }, () => ev));
    this.log(`hostile: flooding stream 0 with ${ev.length}-byte OOM events`);
    let frames = 0;
    let lastReport = Date.now();
    while (!this.hostGone) {
      await this.port.write(batch);
      frames += FLOOD_EVENTS_PER_WRITE;
      if (Date.now() - lastReport >= 5000) {
        this.log(`hostile: ${frames} events (${Math.round((frames * ev.length) / 1e6)} MB) sent`);
        lastReport = Date.now();
      }
    }
    this.log(`hostile: host gone after ${frames} flood events`);
  }

  /**
   * Plants links in every share dir of the container: the share root and the container's own dir are
   * read-only to the guest (EROFS expected), its rootfs and rw volumes are writable (the links land;
   * the host must never follow them). One line per dir: "hostile symlinks: <dir> planted n/m (codes)".
   */
  private plantSymlinks(containerId: string, specJson: string): void {
    const dirs = [SHARE_DIR, join(SHARE_DIR, containerId), join(SHARE_DIR, containerId, 'rootfs')];
    try {
      const spec = JSON.parse(specJson) as { mounts?: { source?: string; options?: string[] }[] };
      for (const m of spec.mounts ?? []) {
        if (m.source?.startsWith(SHARE_DIR + '/') && !(m.options ?? []).includes('ro')) dirs.push(m.source);
      }
    } catch {
      /* no volumes then */
    }
    for (const dir of dirs) {
      let planted = 0;
      const codes = new Set<string>();
      // hostile-<i> points at SYMLINK_TARGETS[i]; the host's own names at the host's root.
      const links: [string, string][] = [...SHARE_NAMES.map((n): [string, string] => [n, '/']), ...SYMLINK_TARGETS.map((t, i): [string, string] => [`hostile-${i}`, t])];
      for (const [name, target] of links) {
        try {
          symlinkSync(target, join(dir, name));
          planted++;
        } catch (e) {
          codes.add((e as NodeJS.ErrnoException).code ?? String(e));
        }
      }
      this.log(`hostile symlinks: ${dir} planted ${planted}/${links.length}${codes.size ? ` (${[...codes].join(',')})` : ''}`);
    }
  }
}
