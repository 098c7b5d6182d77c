# Run by `pulumi destroy` on a servers host last, after every role's resources there are gone (they
# all wait for its preflight, so they go first): the directories the stack's files lived in, once
# empty (a file that is not the stack's keeps its directory), systemd's memory of our units, and
# the lock our apt runs took turns on.
set -u
systemctl daemon-reload
systemctl reset-failed 'dynoform*' 'dyno-*' 2>/dev/null || true
rmdir {{directories}} 2>/dev/null || true
rm -f {{aptLock}}
