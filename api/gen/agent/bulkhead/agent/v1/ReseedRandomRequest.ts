// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ReseedRandomRequest {
  'entropy'?: (Buffer | Uint8Array | string);
  'set_time_unix_ns'?: (number | string | Long);
}

export interface ReseedRandomRequest__Output {
  'entropy': (Buffer);
  'set_time_unix_ns': (string);
}
