// A resource update the pod's sandbox cannot take without growing, when it cannot grow (a micro-VM
// keeps its boot size). Its kind is failed-precondition: the request is valid and only the pod's
// current state refuses it (recreating the pod with the new limits would work).
import { BulkheadError } from '../errors/errors.js';

export class SandboxTooSmallError extends BulkheadError {
  constructor(message: string) {
    super('failed-precondition', message);
    this.name = 'SandboxTooSmallError';
  }
}
