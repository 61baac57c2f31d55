// The micro-VM task runtime of a real VmPodRuntime (default TCG handler config, state under dir)
// with a fake pod VM put in its place: tests drive it against a fake agent/QMP instead of QEMU.
import { pino } from 'pino';
import { VmPodRuntime } from '../../pkg/runtime/vm/vm-runtime.js';
import type { VmTaskRuntime } from '../../pkg/runtime/vm/vm-task-runtime.js';

/** What the runtime's pod map holds, as much as a test fakes (agent, QMP, pid, ...). */
export type FakePodVm = Record<string, unknown>;

export interface VmTasksWithPod {
  tasks: VmTaskRuntime;
  /** The runtime's own maps: pods by id, containers by id. */
  inner: { pods: { pods: Map<string, unknown> }; ctrs: Map<string, unknown> };
}

export function vmTasksWithPod(dir: string, podId: string, pod: FakePodVm): VmTasksWithPod {
  const tasks = new VmPodRuntime({
    handler: 'microvm',
    config: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'tcg', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64, start_from: 'boot' },
    rootDir: dir,
    stateDir: dir,
    log: pino({ level: 'silent' }),
  }).tasks;
  const inner = tasks as unknown as VmTasksWithPod['inner'];
  inner.pods.pods.set(podId, { dead: false, ...pod });
  return { tasks, inner };
}
