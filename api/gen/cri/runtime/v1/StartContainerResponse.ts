// Original file: api/cri/api.proto


export interface StartContainerResponse {
}

export interface StartContainerResponse__Output {
}
