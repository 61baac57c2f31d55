// A real VmPodRuntime (default TCG handler config, state under dir) for unit tests, and its task
// runtime with a fake pod VM put in place: tests drive it against a fake agent/QMP instead of QEMU.
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

type VmRuntimeDeps = ConstructorParameters<typeof VmPodRuntime>[0];

/** A VmPodRuntime for handler "microvm" with the default TCG config, root and state under dir. */
export function vmRuntimeForTest(dir: string, deps: Partial<VmRuntimeDeps> = {}): VmPodRuntime {
  return new VmPodRuntime({
    handler: 'microvm',
    config: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'tcg', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64, start_from: 'boot' },
    rootDir: dir,
    stateDir: dir,
    log: pino({ level: 'silent' }),
    ...deps,
  });
}

export function vmTasksWithPod(dir: string, podId: string, pod: FakePodVm): VmTasksWithPod {
  const tasks = vmRuntimeForTest(dir).tasks;
  const inner = tasks as unknown as VmTasksWithPod['inner'];
  inner.pods.pods.set(podId, { dead: false, ...pod });
  return { tasks, inner };
}
