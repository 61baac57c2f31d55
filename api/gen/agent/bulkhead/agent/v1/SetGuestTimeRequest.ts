// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface SetGuestTimeRequest {
  'unix_ns'?: (number | string | Long);
}

export interface SetGuestTimeRequest__Output {
  'unix_ns': (string);
}
