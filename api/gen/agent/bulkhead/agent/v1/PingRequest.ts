// Original file: api/agent/agent.proto


export interface PingRequest {
}

export interface PingRequest__Output {
}
