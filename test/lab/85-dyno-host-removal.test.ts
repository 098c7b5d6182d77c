// Removing a dyno host (pulumi destroy, or the dyno role taken off a host) leaves nothing of the
// agent's runtime work behind: the script DynoHost runs on delete (templates/agent/remove-dyno-host.sh)
// is run here for real on the second dyno host, then its agent is started again for the files after.
import { AGENT_STATE_DIR } from "../../components/dyno";
import { DYNO_UID_RANGE } from "../../components/firewall/host_firewall";
import { render } from "../../components/templates/render";
import { labStackInfo } from "../support/lab_stack";
import { LabShell } from "../support/lab_hosts";

jest.setTimeout(5 * 60_000);

const shell = new LabShell();
afterAll(() => shell.close());

const [uidMin, uidMax] = DYNO_UID_RANGE;
const usersInBlock = `getent passwd | awk -F: '$3 >= ${uidMin} && $3 <= ${uidMax} { print $1 }'`;
const dynoUnits = "systemctl list-units --all --plain --no-legend --type=service 'dyno-*' | awk '{print $1}'";

test("the dyno host's removal stops the agent and every dyno, and removes their slice, users and the agent's state", async () => {
    const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
    const host = dynoHosts[dynoHosts.length - 1].name; // not the one 90-refresh and 95-sealed replace
    // What an agent leaves: a dyno of a user in the block, in the slice, and its state directory.
    await shell.on(host, `id dyno-leftover >/dev/null 2>&1 || useradd --system --user-group -K SYS_UID_MIN=${uidMin + 99_000} -K SYS_UID_MAX=${uidMax} -K SYS_GID_MIN=${uidMin + 99_000} -K SYS_GID_MAX=${uidMax} --no-create-home --shell /usr/sbin/nologin dyno-leftover`);
    await shell.on(host, "systemd-run --unit=dyno-leftover-web.1 --slice=dynoform.slice --uid=dyno-leftover --quiet sleep 600");
    expect(await shell.on(host, dynoUnits)).toContain("dyno-leftover-web.1.service");
    expect(await shell.on(host, usersInBlock)).toContain("dyno-leftover");
    expect(await shell.on(host, `test -d ${AGENT_STATE_DIR} && echo yes`)).toBe("yes");

    await shell.on(host, "sh -s", render("agent/remove-dyno-host.sh", { uidMin, uidMax, stateDir: AGENT_STATE_DIR }));

    expect(await shell.on(host, "systemctl is-active dynoform-agent || true")).toBe("inactive");
    expect(await shell.on(host, dynoUnits)).toBe("");
    expect(await shell.on(host, "systemctl is-active dynoform.slice || true")).toBe("inactive");
    expect(await shell.on(host, usersInBlock)).toBe("");
    expect(await shell.on(host, "getent group dyno-leftover || true")).toBe("");
    expect(await shell.on(host, `test -e ${AGENT_STATE_DIR} && echo left || echo gone`)).toBe("gone");

    // The stack still has this dyno host: its agent starts again, from an empty state.
    await shell.on(host, "systemctl start dynoform-agent");
    expect(await shell.on(host, "systemctl is-active dynoform-agent")).toBe("active");
});
