// A resource update the pod's sandbox cannot take without growing, when it cannot grow (a micro-VM
// keeps its boot size). Domain error: the CRI edge (pkg/cri) answers it FailedPrecondition, because
// the request is valid and only the pod's current state refuses it (recreating the pod would not).
export class SandboxTooSmallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxTooSmallError';
  }
}
