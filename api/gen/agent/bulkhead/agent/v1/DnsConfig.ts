// Original file: api/agent/agent.proto


export interface DnsConfig {
  'servers'?: (string)[];
  'searches'?: (string)[];
  'options'?: (string)[];
}

export interface DnsConfig__Output {
  'servers': (string)[];
  'searches': (string)[];
  'options': (string)[];
}
