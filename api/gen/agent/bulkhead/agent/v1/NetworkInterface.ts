// Original file: api/agent/agent.proto

import type { IpAddress as _bulkhead_agent_v1_IpAddress, IpAddress__Output as _bulkhead_agent_v1_IpAddress__Output } from '../../../bulkhead/agent/v1/IpAddress.js';

export interface NetworkInterface {
  'name'?: (string);
  'mac'?: (string);
  'addresses'?: (_bulkhead_agent_v1_IpAddress)[];
  'mtu'?: (number);
  'guest_mac'?: (string);
}

export interface NetworkInterface__Output {
  'name': (string);
  'mac': (string);
  'addresses': (_bulkhead_agent_v1_IpAddress__Output)[];
  'mtu': (number);
  'guest_mac': (string);
}
