// Names kubelet sends (pod/container metadata) end up in CNI_ARGS, conmon arguments, log lines and
// file names. NUL bytes and control characters can't travel through those (a NUL in CNI_ARGS made
// the plugin spawn throw → INTERNAL and a slow rollback), and Kubernetes never sends them: reject
// them up front, with the length bounds of Kubernetes object names.
import { invalidArgument } from '../errors/errors.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkMetadataText(what: string, value: string, maxLength = 253): void {
  if (value.length > maxLength) throw invalidArgument(`${what} is longer than ${maxLength} characters`);
  if (CONTROL.test(value)) throw invalidArgument(`${what} must not contain control characters or NUL bytes`);
}
