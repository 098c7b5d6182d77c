// Confirmation before a destructive step: --yes skips it (scripts); on a terminal the operator is
// asked; without a terminal and without --yes the runbook stops before changing anything.
import { question } from "zx";
import { fail } from "./output.mjs";

export async function confirm(what, { yes }) {
    if (yes) return;
    if (!process.stdin.isTTY) fail(`${what}: not confirmed (no terminal to ask on): run again with --yes to proceed`);
    const answer = (await question(`${what}. Proceed? [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") fail("stopped: nothing was changed by this step");
}
