// Where a VM container's host log file starts in the guest log's logical offsets. The daemon ships
// the guest's log (FollowLogs, from an offset) by appending to the kubelet path; after kubelet rotates
// it (rename + ReopenContainerLog) the new file starts at the offset shipped so far, not at 0. A
// restarted daemon resumes at <log base> + <size of the current file>: with the size alone it would
// ship again everything since the container started into the rotated file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../store/atomic-file.js';

const FILE = 'log-base';

export function writeLogBase(bundleDir: string, offset: number): void {
  writeFileAtomicSync(join(bundleDir, FILE), String(offset));
}

/** 0 until the log was reopened once. */
export function readLogBase(bundleDir: string): number {
  try {
    const n = Number(readFileSync(join(bundleDir, FILE), 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}
