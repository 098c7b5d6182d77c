// A dyno host named on a runbook's command line: the stack's host name (dyno-2) or its private
// address, matched against the control role's dyno hosts (`dynoform hosts --json`).
import { dynoformJson } from "./control.mjs";
import { fail } from "./output.mjs";

/** { name, address, status } of the dyno host `arg` names on `stack`. */
export async function findDynoHost(stack, outputs, arg) {
    const address = outputs.hosts[arg] ?? arg;
    const name = Object.entries(outputs.hosts).find(([, a]) => a === address)?.[0] ?? address;
    const all = await dynoformJson(stack, ["hosts"]);
    const status = all.find((h) => h.host === address);
    if (!status) {
        fail(`${arg} is not a dyno host of stack ${stack}: its dyno hosts are ${all.map((h) => `${Object.entries(outputs.hosts).find(([, a]) => a === h.host)?.[0] ?? "?"} (${h.host})`).join(", ")}`);
    }
    return { name, address, status, all };
}
