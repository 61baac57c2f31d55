// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface OomEvent {
  'container_id'?: (string);
  'at_ns'?: (number | string | Long);
}

export interface OomEvent__Output {
  'container_id': (string);
  'at_ns': (string);
}
