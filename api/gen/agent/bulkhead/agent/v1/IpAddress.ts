// Original file: api/agent/agent.proto


export interface IpAddress {
  'cidr'?: (string);
}

export interface IpAddress__Output {
  'cidr': (string);
}
