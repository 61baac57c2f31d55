// Where a VM pod's VM lives: <pod state>/vm when it was booted for the pod, or the warm-pool slot's
// vm dir it was taken from (pointer file <pod state>/vm-dir). Both the pod's recovery and the pool's
// start-up cleanup read it, so it is written crash-safely: a torn or missing pointer after a power
// loss would send the pod's recovery to <pod state>/vm and leave the real VM to the pool's cleanup.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../store/atomic-file.js';

const POINTER = 'vm-dir';

export function readVmDirPointer(podStateDir: string): string {
  try {
    return readFileSync(join(podStateDir, POINTER), 'utf8').trim() || join(podStateDir, 'vm');
  } catch {
    return join(podStateDir, 'vm');
  }
}

export function writeVmDirPointer(podStateDir: string, vmDir: string): void {
  writeFileAtomicSync(join(podStateDir, POINTER), vmDir);
}
