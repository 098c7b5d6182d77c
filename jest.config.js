// Three projects: `unit` (fast, no lab machines; includes the router/agent/control integration
// tests that run real local processes), `browser` (headless Chromium, no lab machines) and `lab`
// (boots Debian machines, runs `pulumi up`).
const shared = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // Lab machines' root filesystems live in .lab/: never crawl them.
  roots: ["<rootDir>/test", "<rootDir>/packages", "<rootDir>/components"],
  modulePathIgnorePatterns: ["<rootDir>/.lab/", "<rootDir>/packages/[^/]+/dist/"],
  // as tsconfig.json's paths: the contract's source, whatever node_modules links
  moduleNameMapper: {
    "^@dynoform/contract$": "<rootDir>/packages/contract/src/index.ts",
    "^@dynoform/logplex/sender$": "<rootDir>/packages/logplex/src/log_sender.ts",
  },
};
// Builds kill every process of their uid. The unit tests' build users take a uid block apart from
// the one the lab's control host gives its build users (same kernel, same uid space), so a unit test
// run beside a lab never kills a lab build (packages/control/src/build_users.ts).
process.env.DYNOFORM_BUILD_UID_RANGE ??= "2100000-2199999";

module.exports = {
  // Lab files run in name order (10-..., 90-...); unit files don't care.
  testSequencer: "<rootDir>/test/lab/sequencer.js",
  projects: [
    {
      ...shared,
      displayName: "unit",
      testMatch: ["<rootDir>/test/unit/**/*.test.ts", "<rootDir>/packages/*/test/**/*.test.ts"],
    },
    {
      // Headless Chromium (Debian's) against the dashboard started in-process: no lab machines.
      ...shared,
      displayName: "browser",
      testMatch: ["<rootDir>/test/browser/**/*.browser.test.ts"],
    },
    {
      ...shared,
      displayName: "lab",
      testMatch: ["<rootDir>/test/lab/**/*.test.ts"],
      globalSetup: "<rootDir>/test/lab/global-setup.ts",
      globalTeardown: "<rootDir>/test/lab/global-teardown.ts",
    },
  ],
};
