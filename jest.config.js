// Two projects: `unit` (fast, no lab machines; includes the router/agent integration tests that
// run real local processes) and `lab` (boots Debian machines and runs `pulumi up` on them).
const tsJest = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };
module.exports = {
  // Lab files run in name order (10-..., 90-...); unit files don't care.
  testSequencer: "<rootDir>/test/lab/sequencer.js",
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/unit/**/*.test.ts", "<rootDir>/packages/*/test/**/*.test.ts"],
    },
    {
      displayName: "lab",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/lab/**/*.test.ts"],
      globalSetup: "<rootDir>/test/lab/global-setup.ts",
      globalTeardown: "<rootDir>/test/lab/global-teardown.ts",
    },
  ],
};
