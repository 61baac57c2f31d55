// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface PingResponse {
  'kernel_release'?: (string);
  'guest_stamp'?: (string);
  'uptime_seconds'?: (number | string);
  'mem_total_bytes'?: (number | string | Long);
  'mem_available_bytes'?: (number | string | Long);
}

export interface PingResponse__Output {
  'kernel_release': (string);
  'guest_stamp': (string);
  'uptime_seconds': (number);
  'mem_total_bytes': (string);
  'mem_available_bytes': (string);
}
