// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ContainerStats {
  'container_id'?: (string);
  'timestamp_ns'?: (number | string | Long);
  'cpu_usage_ns'?: (number | string | Long);
  'memory_working_set_bytes'?: (number | string | Long);
  'memory_usage_bytes'?: (number | string | Long);
  'memory_rss_bytes'?: (number | string | Long);
  'oom_kills'?: (number | string | Long);
  'pids'?: (number | string | Long);
  'cgroup_files'?: ({[key: string]: string});
}

export interface ContainerStats__Output {
  'container_id': (string);
  'timestamp_ns': (string);
  'cpu_usage_ns': (string);
  'memory_working_set_bytes': (string);
  'memory_usage_bytes': (string);
  'memory_rss_bytes': (string);
  'oom_kills': (string);
  'pids': (string);
  'cgroup_files': ({[key: string]: string});
}
