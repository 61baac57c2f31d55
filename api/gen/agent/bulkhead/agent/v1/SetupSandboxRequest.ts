// Original file: api/agent/agent.proto

import type { DnsConfig as _bulkhead_agent_v1_DnsConfig, DnsConfig__Output as _bulkhead_agent_v1_DnsConfig__Output } from '../../../bulkhead/agent/v1/DnsConfig.js';
import type { NetworkInterface as _bulkhead_agent_v1_NetworkInterface, NetworkInterface__Output as _bulkhead_agent_v1_NetworkInterface__Output } from '../../../bulkhead/agent/v1/NetworkInterface.js';
import type { Route as _bulkhead_agent_v1_Route, Route__Output as _bulkhead_agent_v1_Route__Output } from '../../../bulkhead/agent/v1/Route.js';

export interface SetupSandboxRequest {
  'sandbox_id'?: (string);
  'hostname'?: (string);
  'dns'?: (_bulkhead_agent_v1_DnsConfig | null);
  'interfaces'?: (_bulkhead_agent_v1_NetworkInterface)[];
  'routes'?: (_bulkhead_agent_v1_Route)[];
  'hosts'?: (string)[];
  'shared_fs_tag'?: (string);
  'sysctls'?: ({[key: string]: string});
}

export interface SetupSandboxRequest__Output {
  'sandbox_id': (string);
  'hostname': (string);
  'dns': (_bulkhead_agent_v1_DnsConfig__Output | null);
  'interfaces': (_bulkhead_agent_v1_NetworkInterface__Output)[];
  'routes': (_bulkhead_agent_v1_Route__Output)[];
  'hosts': (string)[];
  'shared_fs_tag': (string);
  'sysctls': ({[key: string]: string});
}
