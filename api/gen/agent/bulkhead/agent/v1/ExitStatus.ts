// Original file: api/agent/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ExitStatus {
  'exit_code'?: (number);
  'reason'?: (string);
  'finished_at_ns'?: (number | string | Long);
  'signal'?: (number);
}

export interface ExitStatus__Output {
  'exit_code': (number);
  'reason': (string);
  'finished_at_ns': (string);
  'signal': (number);
}
