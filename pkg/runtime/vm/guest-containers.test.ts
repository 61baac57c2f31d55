// Container states of VM pods: the guest's exit answer, the VM's death and the guest's own list after a
// restart each settle them, and every exit is announced once.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { GuestContainers } from './guest-containers.js';
import type { PodVm } from './pod-vms.js';

const log = pino({ level: 'silent' });

function podWith(call: (kind: string, req: unknown) => Promise<unknown>): PodVm {
  return { vm: { pid: 1, agent: { call } } } as unknown as PodVm;
}

describe('GuestContainers', () => {
  it('records the exit the agent reports and announces it', async () => {
    const g = new GuestContainers();
    const exited: string[] = [];
    g.onExit((id) => exited.push(id));
    g.set('c1', { podId: 'p', state: { status: 'running', pid: 5 }, logOffset: 0 });
    await g.watchExit('c1', podWith(async () => ({ exit_code: 137, reason: 'OOMKilled', finished_at_ns: '9', signal: 9 })), log);
    expect(g.get('c1')!.state).toEqual({ status: 'exited', pid: 0, exitCode: 137, finishedAt: '9', oomKilled: true });
    expect(exited).toEqual(['c1']);
  });

  it("marks the pod's unexited containers PodVMDied, once, and leaves other pods alone", () => {
    const g = new GuestContainers();
    const exited: string[] = [];
    g.onExit((id) => exited.push(id));
    g.set('a', { podId: 'p', state: { status: 'running', pid: 5 }, logOffset: 0 });
    g.set('b', { podId: 'p', state: { status: 'exited', pid: 0, exitCode: 0 }, logOffset: 0 });
    g.set('c', { podId: 'q', state: { status: 'running', pid: 6 }, logOffset: 0 });
    g.podDied('p', 'virtiofsd exited, VM stopped: exit (code 0, signal null)', log);
    g.podDied('p', 'again', log);
    expect(g.get('a')!.state).toMatchObject({ status: 'exited', exitCode: 255, reason: 'PodVMDied', message: "the pod's micro-VM exited: virtiofsd exited, VM stopped: exit (code 0, signal null)" });
    expect(g.get('b')!.state.exitCode).toBe(0);
    expect(g.get('c')!.state.status).toBe('running');
    expect(exited).toEqual(['a']);
  });

  it("rebuilds the states from the guest's list and watches the running ones again", async () => {
    const g = new GuestContainers();
    const calls: string[] = [];
    const pod = podWith(async (kind) => {
      calls.push(kind);
      if (kind === 'list_containers') {
        return {
          containers: [
            { container_id: 'r', state: 'running', pid: 7, exit: null },
            { container_id: 'x', state: 'exited', pid: 0, exit: { exit_code: 2, reason: 'Error', finished_at_ns: '3', signal: 0 } },
            { container_id: 'n', state: 'created', pid: 0, exit: null },
          ],
        };
      }
      return new Promise(() => undefined); // wait_container: still running
    });
    await g.restore('p', pod, log);
    expect(g.get('r')!.state).toEqual({ status: 'running', pid: 7 });
    expect(g.get('x')!.state).toEqual({ status: 'exited', pid: 0, exitCode: 2, finishedAt: '3', oomKilled: false });
    expect(g.get('n')!.state).toEqual({ status: 'created', pid: 0 });
    expect(calls).toEqual(['list_containers', 'wait_container']);
  });
});
