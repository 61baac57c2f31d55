// The agent's request dispatcher: decodes frames from the serial port, runs the RPCs against the
// container manager and writes responses, stream data and events back.
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Writable } from 'node:stream';
import { FrameDecoder, FrameError, FrameKind, encodeFrame, encodeData, decodeData, type Frame, EVENT_STREAM, DATA_CHUNK } from '../vmchannel/frame.js';
import { DEFAULT_WINDOW, RecvWindow, SendWindow, decodeWindow, encodeWindow } from '../vmchannel/flow.js';
import { AgentError, Code, EventCodec, ExitStatusCodec, RequestCodec, ResponseCodec, type Event, type Request__Output, type Response } from '../vmchannel/codec.js';
import type { SerialPort } from './port.js';
import { ContainerManager } from './containers.js';
import { setupSandbox } from './sandbox-setup.js';

export const AGENT_VERSION = '0.1.0';

/** Host->agent traffic on an open stream: stdin bytes go to `target` (null: dropped), CLOSE calls close(). */
interface StreamSink {
  target: Writable | null | undefined;
  close(): void;
  /** An empty fd-0 DATA frame (attach: stdin EOF while the session goes on). */
  eof?(): void;
}

/** An attach session's output is dropped beyond this backlog (the container must not block on a slow client). */
const ATTACH_MAX_BACKLOG = 1 << 20;

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function memInfo(): { total: string; available: string } {
  const m = readText('/proc/meminfo');
  const kb = (k: string): string => String(BigInt(/^(\d+)/.exec(m.split(`${k}:`)[1]?.trim() ?? '0')?.[1] ?? '0') * 1024n);
  return { total: kb('MemTotal'), available: kb('MemAvailable') };
}

export class AgentServer {
  private readonly decoder = new FrameDecoder();
  private readonly sinks = new Map<number, StreamSink>();
  /** Cleanups of streams that push data (log followers): dropped when the host goes away. */
  private readonly pushers = new Map<number, () => void>();
  private hostConnected = false;
  /** The host's receive window per stream (Hello); 0 = host without flow control. */
  private hostWindow = 0;
  private readonly sends = new Map<number, SendWindow>();
  private readonly recvs = new Map<number, RecvWindow>();
  readonly containers = new ContainerManager();

  constructor(
    private readonly port: SerialPort,
    private readonly log: (msg: string) => void,
    /** Sees each request after its answer was queued (the test-only hostile mode acts on them). */
    private readonly onServed?: (stream: number, req: Request__Output, res: Response) => void,
  ) {
    port.on('data', (b) => this.onData(b));
    port.on('hostGone', () => this.onHostGone());
    this.containers.on('exit', (id, status) => this.sendEvent({ exit: { container_id: id, status } }));
    this.containers.on('oom', (id) => this.sendEvent({ oom: { container_id: id, at_ns: String(BigInt(Date.now()) * 1_000_000n) } }));
  }

  private onHostGone(): void {
    this.hostConnected = false;
    this.decoder.reset();
    for (const stop of this.pushers.values()) stop();
    this.pushers.clear();
    this.sinks.clear();
    for (const w of this.sends.values()) w.discard();
    this.sends.clear();
    this.recvs.clear();
    this.log('host disconnected; waiting for reconnect');
  }

  private onData(b: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(b);
    } catch (e) {
      this.log(`dropping garbage: ${e instanceof FrameError ? e.message : String(e)}`);
      frames = e instanceof FrameError ? e.framesBefore : [];
    }
    // The agent must outlive a junk frame (an empty DATA, a throwing stdin target): it is the only
    // process the host can talk to in the guest. The frame is dropped and the rest still served.
    for (const f of frames) {
      try {
        this.onFrame(f);
      } catch (e) {
        this.log(`dropping frame (stream ${f.stream}, kind ${f.kind}, ${f.payload.length} bytes): ${(e as Error).message ?? String(e)}`);
      }
    }
  }

  private onFrame(f: Frame): void {
    if (f.kind === FrameKind.Request) {
      let req: Request__Output;
      try {
        req = RequestCodec.decode(f.payload);
      } catch (e) {
        this.respond(f.stream, { error: `undecodable request: ${(e as Error).message}`, code: Code.InvalidArgument });
        return;
      }
      void this.handle(f.stream, req).then(
        (r) => {
          this.respond(f.stream, r);
          this.onServed?.(f.stream, req, r);
        },
        (e: unknown) => {
          const err = e instanceof AgentError ? e : new AgentError(Code.Internal, (e as Error).message ?? String(e));
          this.respond(f.stream, { error: err.message, code: err.code });
        },
      );
      return;
    }
    if (f.kind === FrameKind.Window) {
      this.sends.get(f.stream)?.grant(decodeWindow(f.payload));
      return;
    }
    const sink = this.sinks.get(f.stream);
    if (!sink) return;
    if (f.kind === FrameKind.Data) {
      const d = decodeData(f.payload);
      this.receive(f.stream, sink, d.bytes);
    } else if (f.kind === FrameKind.Close) {
      sink.close();
      this.sinks.delete(f.stream);
      this.recvs.delete(f.stream);
    }
  }

  /** Host->guest bytes: credit goes back once the target took them (or its buffer drained). */
  private receive(stream: number, sink: StreamSink, b: Buffer): void {
    if (b.length === 0) {
      sink.eof?.();
      return;
    }
    let rw = this.recvs.get(stream);
    if (!rw) {
      rw = new RecvWindow(this.hostWindow > 0 ? DEFAULT_WINDOW : 0, (n) => void this.port.write(encodeFrame(stream, FrameKind.Window, encodeWindow(n))));
      this.recvs.set(stream, rw);
    }
    const t = sink.target;
    if (t && !t.destroyed && !t.writableEnded && !t.write(b)) {
      rw.pause();
      const w = rw;
      t.once('drain', () => w.resume());
      t.once('close', () => w.resume());
    }
    rw.consumed(b.length);
  }

  private sendWindow(stream: number): SendWindow {
    let w = this.sends.get(stream);
    if (!w) {
      w = new SendWindow(this.hostWindow, (fd, b) => {
        for (let off = 0; off < b.length || off === 0; off += DATA_CHUNK) {
          void this.port.write(encodeFrame(stream, FrameKind.Data, encodeData(fd, b.subarray(off, off + DATA_CHUNK))));
        }
      });
      this.sends.set(stream, w);
    }
    return w;
  }

  private respond(stream: number, r: Response): void {
    void this.port.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode(r)));
  }

  /** Sends DATA within the host's window; false: the rest is queued, pause the producer until onDrain. */
  private sendData(stream: number, fd: number, b: Buffer): boolean {
    if (!this.hostConnected) return true;
    return this.sendWindow(stream).write(fd, b);
  }

  private onDrain(stream: number, f: () => void): void {
    const w = this.sends.get(stream);
    if (w) w.onDrain(f);
    else f();
  }

  /** CLOSE goes after every queued DATA byte of the stream. */
  private sendClose(stream: number, exit?: Parameters<typeof ExitStatusCodec.encode>[0]): void {
    this.onDrain(stream, () => {
      this.sends.delete(stream);
      this.recvs.delete(stream);
      void this.port.write(encodeFrame(stream, FrameKind.Close, exit ? ExitStatusCodec.encode(exit) : undefined));
    });
  }

  private sendEvent(ev: Event): void {
    if (!this.hostConnected) return;
    void this.port.write(encodeFrame(EVENT_STREAM, FrameKind.Event, EventCodec.encode(ev)));
  }

  private async handle(stream: number, req: Request__Output): Promise<Response> {
    const c = this.containers;
    switch (req.req) {
      case 'hello':
        this.hostConnected = true;
        this.hostWindow = req.hello!.window ?? 0;
        this.log(`host connected (flow control ${this.hostWindow > 0 ? 'on' : 'off'})`);
        return { hello: { nonce: req.hello!.nonce, agent_version: AGENT_VERSION, window: this.hostWindow > 0 ? DEFAULT_WINDOW : 0 } };
      case 'ping': {
        const mem = memInfo();
        return {
          ping: {
            kernel_release: release(),
            guest_stamp: readText('/etc/bulkhead-guest-stamp'),
            uptime_seconds: Number(readText('/proc/uptime').split(' ')[0] ?? 0),
            mem_total_bytes: mem.total,
            mem_available_bytes: mem.available,
          },
        };
      }
      case 'setup_sandbox':
        await setupSandbox(req.setup_sandbox!);
        return { empty: {} };
      case 'create_container':
        await c.create(req.create_container!);
        return { empty: {} };
      case 'start_container':
        return { start_container: { pid: await c.start(req.start_container!.container_id) } };
      case 'signal_container': {
        const r = req.signal_container!;
        await c.signal(r.container_id, r.signal || 15, r.all);
        return { empty: {} };
      }
      case 'wait_container':
        return { wait_container: await c.wait(req.wait_container!.container_id) };
      case 'delete_container':
        await c.delete(req.delete_container!.container_id);
        return { empty: {} };
      case 'exec_process': {
        const h = c.exec(
          req.exec_process!,
          { write: (fd, b) => this.sendData(stream, fd, b), onDrain: (f) => this.onDrain(stream, f) },
          (st) => {
            this.sinks.delete(stream);
            this.sendClose(stream, st);
          },
        );
        this.sinks.set(stream, { target: h.stdin, close: () => h.stdin?.end() });
        return { exec_process: { exec_id: h.execId, pid: h.pid } };
      }
      case 'attach':
        this.attach(stream, req.attach!);
        return { empty: {} };
      case 'signal_exec':
        c.signalExec(req.signal_exec!.exec_id, req.signal_exec!.signal || 9);
        return { empty: {} };
      case 'port_forward':
        await this.portForward(stream, req.port_forward!.port);
        return { empty: {} };
      case 'resize': {
        const r = req.resize!;
        await c.resize(r.container_id, r.exec_id, r.width, r.height);
        return { empty: {} };
      }
      case 'stats':
        return { stats: { stats: c.stats(req.stats!.container_ids) } };
      case 'update_resources':
        await c.update(req.update_resources!.container_id, req.update_resources!.resources);
        return { empty: {} };
      case 'follow_logs':
        this.followLogs(stream, req.follow_logs!.container_id, Number(req.follow_logs!.offset));
        return { empty: {} };
      case 'list_containers':
        return {
          list_containers: {
            containers: c.list().map((x) => ({ container_id: x.id, state: x.state, exit: x.exit ?? null, pid: x.pid })),
          },
        };
      case 'shutdown':
        setTimeout(() => spawn('/bin/sh', ['-c', 'sync; poweroff -f'], { stdio: 'ignore' }), 50);
        return { empty: {} };
      default:
        throw new AgentError(Code.InvalidArgument, `unknown request ${String(req.req)}`);
    }
  }

  /** Connects to 127.0.0.1:port in the guest and bridges it to the stream (see PortForwardRequest). */
  private portForward(stream: number, port: number): Promise<void> {
    if (!port || port > 65535) return Promise.reject(new AgentError(Code.InvalidArgument, `bad port ${port}`));
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port });
      let open = false;
      sock.once('connect', () => {
        open = true;
        this.sinks.set(stream, { target: sock, close: () => sock.end() });
        this.pushers.set(stream, () => sock.destroy());
        resolve();
        // Data may only follow the response: start reading after it is queued.
        setImmediate(() =>
          sock.on('data', (b: Buffer) => {
            if (!this.sendData(stream, 1, b)) {
              sock.pause();
              this.onDrain(stream, () => sock.resume());
            }
          }),
        );
      });
      sock.on('error', (e) => {
        if (!open) reject(new AgentError(Code.Unavailable, `connect 127.0.0.1:${port} in the guest: ${e.message}`));
      });
      sock.on('close', () => {
        if (!open) return;
        this.sinks.delete(stream);
        this.pushers.delete(stream);
        this.sendClose(stream);
      });
    });
  }

  /**
   * Sends the log file from offset on, then what gets appended, reading the file as the host's credit
   * allows (a slow host never makes the agent hold the log in memory); CLOSE once the container exited
   * and everything was sent.
   */
  private followLogs(stream: number, id: string, offset: number): void {
    const ct = this.containers.get(id);
    let sent = offset;
    let stopped = false;
    let waiting = false;
    const pump = (): void => {
      if (stopped || waiting) return;
      while (sent < ct.log.bytes) {
        const buf = Buffer.allocUnsafe(Math.min(ct.log.bytes - sent, DATA_CHUNK));
        const fd = openSync(ct.log.path, 'r');
        let n = 0;
        try {
          n = readSync(fd, buf, 0, buf.length, sent);
        } finally {
          closeSync(fd);
        }
        if (n <= 0) break;
        sent += n;
        if (!this.sendData(stream, 1, buf.subarray(0, n))) {
          waiting = true;
          this.onDrain(stream, () => {
            waiting = false;
            pump();
          });
          return;
        }
      }
      if (ct.state === 'exited' && sent >= ct.log.bytes) {
        stop();
        this.sendClose(stream);
      }
    };
    const onExit = (cid: string): void => {
      if (cid === id) pump();
    };
    const stop = (): void => {
      stopped = true;
      ct.log.off('append', pump);
      this.containers.off('exit', onExit);
      this.pushers.delete(stream);
    };
    // Response goes first: defer the data until after it is queued.
    setImmediate(() => {
      ct.log.on('append', pump);
      this.containers.on('exit', onExit);
      this.pushers.set(stream, stop);
      pump();
    });
  }

  /** Live stdio of a running container (see AttachRequest); output beyond ATTACH_MAX_BACKLOG is dropped. */
  private attach(stream: number, r: { container_id: string; stdin: boolean; stdout: boolean; stderr: boolean; stdin_once: boolean }): void {
    const ct = this.containers.get(r.container_id);
    if (ct.state !== 'running') throw new AgentError(Code.FailedPrecondition, `container ${r.container_id} is ${ct.state}, not running`);
    let dropped = 0;
    const onOutput = (cid: string, fd: 1 | 2, b: Buffer): void => {
      if (cid !== r.container_id || (fd === 1 ? !r.stdout : !r.stderr)) return;
      if ((this.sends.get(stream)?.backlog ?? 0) > ATTACH_MAX_BACKLOG) {
        dropped += b.length;
        return;
      }
      this.sendData(stream, fd, b);
    };
    const onExit = (cid: string): void => {
      if (cid !== r.container_id) return;
      stop();
      this.sinks.delete(stream);
      this.sendClose(stream);
    };
    const stop = (): void => {
      this.containers.off('output', onOutput);
      this.containers.off('exit', onExit);
      this.pushers.delete(stream);
      if (dropped) this.log(`attach ${r.container_id}: dropped ${dropped} output bytes for a slow client`);
    };
    const stdin = r.stdin ? this.containers.stdinOf(r.container_id) : null;
    this.sinks.set(stream, {
      target: stdin,
      eof: () => {
        if (r.stdin_once) stdin?.end();
      },
      close: () => {
        stop();
        this.sendClose(stream);
      },
    });
    setImmediate(() => {
      this.containers.on('output', onOutput);
      this.containers.on('exit', onExit);
      this.pushers.set(stream, stop);
    });
  }
}
