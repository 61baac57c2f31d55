// A container record as the CRI shows it: ContainerStatus and the ListContainers item.
import type * as cri from '../api/cri-types.js';
import type { ContainerRecord } from '../store/records.js';
import { statusStopSignal } from './stop-signal.js';

export function containerStatusOf(c: ContainerRecord): cri.ContainerStatus {
  return {
    id: c.id,
    metadata: c.config.metadata,
    state: c.state,
    created_at: c.createdAt,
    started_at: c.startedAt,
    finished_at: c.finishedAt,
    exit_code: c.exitCode,
    image: { image: c.imageName, annotations: c.config.image?.annotations ?? {}, user_specified_image: c.imageName, runtime_handler: '' },
    image_ref: c.imageRef,
    image_id: c.imageId,
    reason: c.reason,
    message: c.message,
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: c.config.mounts,
    log_path: c.logPath,
    resources: c.resources ? { linux: c.resources } : null,
    user: c.user ? { linux: { uid: c.user.uid, gid: c.user.gid, supplemental_groups: c.user.additionalGids } } : null,
    stop_signal: statusStopSignal(c.stopSignal) as cri.ContainerStatus['stop_signal'],
  };
}

export function containerListItem(c: ContainerRecord): cri.Container {
  return {
    id: c.id,
    pod_sandbox_id: c.podId,
    metadata: c.config.metadata,
    image: { image: c.imageName, user_specified_image: c.imageName },
    image_ref: c.imageRef,
    image_id: c.imageId,
    state: c.state,
    created_at: c.createdAt,
    labels: c.config.labels,
    annotations: c.config.annotations,
  };
}
