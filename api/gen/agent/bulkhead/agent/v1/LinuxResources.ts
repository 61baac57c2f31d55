// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface LinuxResources {
  'cpu_period'?: (number | string | Long);
  'cpu_quota'?: (number | string | Long);
  'cpu_shares'?: (number | string | Long);
  'memory_limit_bytes'?: (number | string | Long);
  'cpuset_cpus'?: (string);
}

export interface LinuxResources__Output {
  'cpu_period': (string);
  'cpu_quota': (string);
  'cpu_shares': (string);
  'memory_limit_bytes': (string);
  'cpuset_cpus': (string);
}
