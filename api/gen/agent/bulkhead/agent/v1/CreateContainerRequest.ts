// Original file: api/agent/agent.proto

import type { RootfsSource as _bulkhead_agent_v1_RootfsSource, RootfsSource__Output as _bulkhead_agent_v1_RootfsSource__Output } from '../../../bulkhead/agent/v1/RootfsSource.js';
import type { EphemeralVolume as _bulkhead_agent_v1_EphemeralVolume, EphemeralVolume__Output as _bulkhead_agent_v1_EphemeralVolume__Output } from '../../../bulkhead/agent/v1/EphemeralVolume.js';

export interface CreateContainerRequest {
  'container_id'?: (string);
  'spec_json'?: (string);
  'rootfs'?: (_bulkhead_agent_v1_RootfsSource | null);
  'log_path'?: (string);
  'stdin'?: (boolean);
  'tty'?: (boolean);
  'ephemeral_volumes'?: (_bulkhead_agent_v1_EphemeralVolume)[];
}

export interface CreateContainerRequest__Output {
  'container_id': (string);
  'spec_json': (string);
  'rootfs': (_bulkhead_agent_v1_RootfsSource__Output | null);
  'log_path': (string);
  'stdin': (boolean);
  'tty': (boolean);
  'ephemeral_volumes': (_bulkhead_agent_v1_EphemeralVolume__Output)[];
}
