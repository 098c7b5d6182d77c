# Run by `pulumi destroy` (and by removing the dyno role from a host) before the agent's own unit,
# binary and files go: everything dynoform-agent made on this host at runtime goes too.
set -u
# The agent first, so it starts nothing again.
systemctl stop dynoform-agent.service 2>/dev/null || true
# Every dyno: transient units in dynoform.slice (one-offs included); stopping one removes it.
for unit in $(systemctl list-units --all --plain --no-legend --type=service 'dyno-*' | awk '{print $1}'); do
  systemctl stop "$unit" || true
done
systemctl reset-failed 'dyno-*' 2>/dev/null || true
systemctl stop dynoform.slice 2>/dev/null || true
# The apps' users: the agent gives them uids {{uidMin}}-{{uidMax}} (useradd --user-group: their groups go with them).
getent passwd | awk -F: '$3 >= {{uidMin}} && $3 <= {{uidMax}} { print $1 }' | while read -r user; do
  userdel "$user" || echo "userdel $user failed" >&2
done
# Slugs, dyno logs, environment files and the desired state.
rm -rf {{stateDir}}
