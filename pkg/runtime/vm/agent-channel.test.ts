// A guest that breaks the agent protocol: the pod VM is stopped and its containers turn exited with
// reason PodVMDied and a message naming the violation (the daemon itself carries on).
import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter, once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AgentClient } from '../../vmchannel/client.js';
import { FrameDecoder, FrameKind, encodeFrame } from '../../vmchannel/frame.js';
import { DEFAULT_WINDOW } from '../../vmchannel/flow.js';
import { RequestCodec, ResponseCodec } from '../../vmchannel/codec.js';
import type { VmHandlerConfig } from '../../config/schema.js';
import type { ContainerRecord } from '../../store/records.js';
import type { VmExit } from '../../vm/micro-vm.js';
import { VmPodRuntime } from './vm-runtime.js';
import type { BootedVm } from './vm-booter.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A MicroVm stand-in: the real AgentClient, and kill() "exits" the VM as QEMU's death would. */
class FakeVm extends EventEmitter<{ exit: [VmExit] }> {
  exit: VmExit | null = null;
  killed = 0;
  readonly pid = 4242;
  constructor(readonly agent: AgentClient) {
    super();
  }
  kill(): void {
    this.killed++;
    this.exit = { code: null, signal: 'SIGKILL', shutdownReason: null, via: 'process' };
    this.agent.close();
    this.emit('exit', this.exit);
  }
  consoleTail(): string {
    return '';
  }
}

describe('the VM runtime and a guest breaking the agent protocol', () => {
  it('stops the pod VM; its containers exit PodVMDied naming the violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-vm-channel-'));
    const path = join(dir, 'agent.sock');
    let guest: Socket | undefined;
    const server = createServer((s) => {
      guest = s;
      const dec = new FrameDecoder();
      s.on('error', () => undefined);
      s.on('data', (b: Buffer) => {
        for (const f of dec.push(b)) {
          const req = f.kind === FrameKind.Request ? RequestCodec.decode(f.payload) : undefined;
          if (req?.hello) s.write(encodeFrame(f.stream, FrameKind.Response, ResponseCodec.encode({ hello: { nonce: req.hello.nonce, agent_version: 't', window: DEFAULT_WINDOW } })));
        }
      });
    });
    server.listen(path);
    await once(server, 'listening');
    const agent = new AgentClient(path);
    await agent.connect({ timeoutMs: 5000 });
    cleanups.push(() => {
      agent.close();
      guest?.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const log = pino({ level: 'silent' });
    const config = { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'tcg', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64 } as VmHandlerConfig;
    const { tasks: rt, controller } = new VmPodRuntime({ handler: 'microvm', config, rootDir: dir, stateDir: dir, log });
    const vm = new FakeVm(agent);
    const booted = { vm, vfs: { pid: 0, socket: '', exited: new Promise<void>(() => undefined), kill: () => undefined }, vmDir: dir, shareDir: dir, netns: '', bootMac: '', readyMs: 1 } as unknown as BootedVm;
    const internals = rt as unknown as { pods: { adopt(podId: string, b: BootedVm, log: unknown): unknown }; ctrs: Map<string, unknown> };
    internals.pods.adopt('pod1', booted, log);
    internals.ctrs.set('c1', { podId: 'pod1', state: { status: 'running', pid: 7 }, logOffset: 0, logDone: true });
    const exited: string[] = [];
    rt.onExit((id) => exited.push(id));

    // field 1, wire type 7: not protobuf
    guest!.write(encodeFrame(0, FrameKind.Event, Buffer.from([0x0f])));
    for (const t0 = Date.now(); exited.length === 0 && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 5));

    expect(vm.killed).toBe(1);
    expect(exited).toEqual(['c1']);
    const st = await rt.containerState({ id: 'c1', podId: 'pod1', state: 'CONTAINER_RUNNING', logPath: '' } as unknown as ContainerRecord);
    expect(st.status).toBe('exited');
    expect(st.reason).toBe('PodVMDied');
    expect(st.message).toMatch(/^the pod's micro-VM exited: guest agent protocol violation: undecodable EVENT on stream 0 \(1 bytes\)/);
    expect(controller.sandboxAlive({ id: 'pod1' } as Parameters<typeof controller.sandboxAlive>[0])).toBe(false);
  });
});
