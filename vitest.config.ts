import { defineConfig } from 'vitest/config';

// Projects: "unit" (pure, fast, no root privileges needed), "integration" (drives the real daemon,
// runc, conmon, CNI, QEMU and a loopback registry; needs root and e2e/setup.sh) and "kubelet"
// (a real kubelet + API server against Bulkhead; run by e2e/kubelet/run.sh, which brings them up).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['pkg/**/*.test.ts', 'cmd/**/*.test.ts', 'bench/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['e2e/**/*.spec.ts'],
          exclude: ['e2e/kubelet/**', '**/node_modules/**'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'kubelet',
          include: ['e2e/kubelet/**/*.spec.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
