// Users' keys (keys:add) live in ~git/.ssh/authorized_keys2, which sshd reads only while no
// AuthorizedKeysFile setting of ours replaces its default (".ssh/authorized_keys .ssh/authorized_keys2").
import * as fs from "fs";
import * as path from "path";

const root = path.resolve(__dirname, "../..");

function files(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test("no sshd configuration the stack or the lab writes sets AuthorizedKeysFile", () => {
    const sources = [...files(path.join(root, "templates")), ...files(path.join(root, "components")), ...files(path.join(root, "scripts/lab"))];
    const setting = sources.filter((f) => /^\s*AuthorizedKeysFile\b/m.test(fs.readFileSync(f, "utf8")) || /AuthorizedKeysFile [^\n]*\\n/.test(fs.readFileSync(f, "utf8")));
    // One that must exist: keep .ssh/authorized_keys2 in it (packages/control/src/accounts/account_store.ts writes there).
    expect(setting).toEqual([]);
});
