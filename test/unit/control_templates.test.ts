import { render } from "../../components/templates/render";
import { authorizedKeyLine, authorizedKeysFile, CONTROL_BINARY } from "../../components/control/control";

// Snapshots of the control role's files (components/control).
describe("control templates", () => {
    test("dynoform-control.service", () => {
        expect(render("control/dynoform-control.service", {})).toMatchSnapshot();
    });

    test("sudoers: the git user may only re-run the forced command as root", () => {
        const text = render("control/sudoers", { binary: CONTROL_BINARY, gitUser: "git", buildUserPrefix: "build-" });
        expect(text).toContain(`git ALL=(root) NOPASSWD: ${CONTROL_BINARY} ssh *\n`);
        expect(text).toMatchSnapshot();
    });

    test("authorized_keys: forced command, no forwarding, no pty; names from comments", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAclvHPdBJTN+VPuY33ZgZCeG3YzDxaQWqDOxfLxT8gp";
        expect(authorizedKeyLine("alice", `${key} alice@laptop`)).toBe(
            `command="${CONTROL_BINARY} ssh alice",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${key}`,
        );
        expect(authorizedKeysFile([{ name: "dynoform-cli", key }, { key: `${key} bob` }, { key: `${key} "weird name"` }])).toMatchSnapshot();
        expect(() => authorizedKeyLine("x", "not a key")).toThrow(/is not an OpenSSH public key/);
    });
});
