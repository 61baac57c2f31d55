// Original file: api/agent/agent.proto


export interface ShutdownRequest {
}

export interface ShutdownRequest__Output {
}
