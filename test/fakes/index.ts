// Test support (not a production package: nothing under pkg/ may import it; it lives outside pkg/
// so scripts/check-layers.mjs never sees it): fakes of the runtimes and host services behind the
// pods subsystem, and newTestPods() assembling the managers and CRI handlers over them.
export * from './journal.js';
export * from './pod-runtime.js';
export * from './host.js';
export * from './test-pods.js';
