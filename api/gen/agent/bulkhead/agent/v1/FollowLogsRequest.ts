// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface FollowLogsRequest {
  'container_id'?: (string);
  'offset'?: (number | string | Long);
}

export interface FollowLogsRequest__Output {
  'container_id': (string);
  'offset': (string);
}
