# The stack's SSH key on one host (components/hosts/stack_root_key.ts): every key of AUTHORIZE (one
# public key a line, "type base64") is in KEY_USER's authorized_keys, no line of REMOVE's keys is.
# Other lines (an operator's own keys, the add-ons key's forced command) stay as they are. The file
# is replaced whole (a temp file renamed over it), so sshd never reads half of it.
set -eu
# Never leave the user without a key of this stack (a key in both lists stays: removal comes first).
printf '%s\n' "$AUTHORIZE" | grep -q . || { echo "root-keys: no key to authorize: refusing to change $KEY_USER's authorized_keys" >&2; exit 1; }
file="${KEYS_FILE:-$(getent passwd "$KEY_USER" | cut -d: -f6)/.ssh/authorized_keys}"
# The home's owner owns .ssh and the file (root, or the connection's sudo user).
owner="$(stat -c %u:%g "$(dirname "$(dirname "$file")")")"
mkdir -p "$(dirname "$file")"
chown "$owner" "$(dirname "$file")"
chmod 700 "$(dirname "$file")"
[ -e "$file" ] || : > "$file"
tmp="$(mktemp "$file.XXXXXX")"
# A line's key: its first field that is a key type, with the base64 after it (options may come first).
awk -v remove="$REMOVE" '
    BEGIN { n = split(remove, r, "\n"); for (i = 1; i <= n; i++) if (r[i] != "") drop[r[i]] = 1 }
    {
        key = ""
        for (i = 1; i < NF; i++) if ($i ~ /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/) { key = $i " " $(i + 1); break }
        if (!(key in drop)) print
    }' "$file" > "$tmp"
printf '%s\n' "$AUTHORIZE" | while IFS= read -r key; do
    [ -n "$key" ] || continue
    grep -qF -- "$key" "$tmp" || printf '%s dynoform-root\n' "$key" >> "$tmp"
done
chown "$owner" "$tmp"
chmod 600 "$tmp"
mv -f "$tmp" "$file"
echo "authorized: $(printf '%s\n' "$AUTHORIZE" | grep -c .) key(s); removed: $(printf '%s\n' "$REMOVE" | grep -c . || true) key(s) if present"
