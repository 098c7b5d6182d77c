import { labStackInfo, labStackUp, LAB_STACK } from "../support/lab_stack";
import { run } from "../support/pulumi";

// One stack for the whole lab suite: provisioning it is the slow part, every file checks it.
export default async function globalSetup(): Promise<void> {
    await run("bash", ["scripts/lab/cleanup.sh", labStackInfo().network]);
    const seconds = await labStackUp();
    console.log(`\nlab stack ${LAB_STACK} up in ${seconds.toFixed(1)} s`);
}
