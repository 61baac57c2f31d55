// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface EphemeralVolume {
  'name'?: (string);
  'size_bytes'?: (number | string | Long);
  'mode'?: (number);
  'uid'?: (number);
  'gid'?: (number);
}

export interface EphemeralVolume__Output {
  'name': (string);
  'size_bytes': (string);
  'mode': (number);
  'uid': (number);
  'gid': (number);
}
