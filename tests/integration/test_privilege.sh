#!/usr/bin/env bash
# test_privilege - least privilege: mxcached started as root with
# [daemon] user runs as that user for good; the region and the sockets are
# for its group only; clients cannot write the data area; ctl.sock takes
# changes only from root, the daemon's user and [ctl] admin_group, reads
# from the region's group; tracker inputs never reach a file or the region.
#
# Needs root (to start the daemon as root and to act as other users with
# setpriv); otherwise every check is skipped.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

require_root_setpriv

# The daemon's user and group, an admin group, and uids that exist
# nowhere else: setpriv needs no passwd entry for them.
DUSER=nobody
DUID=$(id -u $DUSER)
DGID=$(id -g $DUSER)
ADMIN_GID=4242
OTHER=(setpriv --reuid=4000 --regid=4000 --clear-groups)
READER=(setpriv --reuid=4001 --regid=4001 --groups="$DGID")
ADMIN=(setpriv --reuid=4002 --regid=4002 --groups="$DGID,$ADMIN_GID")
ASDAEMON=(setpriv --reuid="$DUID" --regid="$DGID" --clear-groups)
# a process that changed its uid is not dumpable: LeakSanitizer cannot
# stop its threads at exit, so only the leak check is off for it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

new_dir D
check "mxcached starts as root with [daemon] user = $DUSER" daemon_start_as "$D" "$DUSER" "$ADMIN_GID"
PID=$(cat "$D/test.pid")

# --- the process gave root up for good
status_ids() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$PID/status"; }
expect_out "$DUID $DUID $DUID $DUID" "real, effective, saved and file-system uid are $DUSER's" status_ids Uid
expect_out "$DGID $DGID $DGID $DGID" "and so are the gids" status_ids Gid
expect_out "0000000000000000" "no effective capabilities" status_ids CapEff
expect_out "0000000000000000" "no permitted capabilities" status_ids CapPrm
for i in $(seq 1 100); do   # started by the daemon, a moment after it answers
	child=$(pgrep -P "$PID" -f mxcache-socketmap | head -1)
	[ -n "$child" ] && break
	sleep 0.05
done
check "the socketmap server is running" test -n "$child"
expect_out "$DUSER" "the socketmap server runs as $DUSER too" ps -o user= -p "${child:-1}"

# --- files: the daemon's, readable by its group only, writable by it only
owner_mode() { stat -c '%U:%G %a' "$1"; }
# shellcheck disable=SC2046
data=$(ls $(region_files "$D") 2>/dev/null | grep '\.data$')
readers=${data%.data}.readers
expect_out "$DUSER:nogroup 640" "the data area: the daemon writes, its group reads" owner_mode "$data"
expect_out "$DUSER:nogroup 640" "the readers listing: the daemon writes, its group reads" owner_mode "$readers"
expect_out "$DUSER:nogroup 660" "readers.sock: the daemon's group only" owner_mode "$D/readers.sock"
expect_out "$DUSER:nogroup 660" "ctl.sock: the daemon's group only" owner_mode "$D/ctl.sock"
expect_out "$DUSER:nogroup 660" "socketmap.sock: the daemon's group only" owner_mode "$D/socketmap.sock"
expect_out "$DUSER:nogroup 640" "mxcache.db: no access for others" owner_mode "$D/mxcache.db"
expect_out "$DUSER:nogroup 755" "the state directory is handed to the daemon's user" owner_mode "$D"

# --- who may do what
expect_rc 0 "root changes the caches" "$SHMCTL" -d "$D" override set root.priv.test 192.0.2.1
expect_rc 0 "the daemon's own user changes the caches" "${ASDAEMON[@]}" "$SHMCTL" -d "$D" override set self.priv.test 192.0.2.2
expect_rc 0 "a member of [ctl] admin_group changes the caches" "${ADMIN[@]}" "$SHMCTL" -d "$D" override set admin.priv.test 192.0.2.3
expect_out "192.0.2.1" "a member of the region's group reads the region" "${READER[@]}" "$SHMCTL" -d "$D" resolve root.priv.test
expect_rc 0 "and may ping the daemon over ctl.sock" "${READER[@]}" "$SHMCTL" -d "$D" ping
for i in 1 2 3; do
	expect_rc 4 "but may not change the caches ($i)" "${READER[@]}" "$SHMCTL" -d "$D" override set reader$i.priv.test 192.0.2.4
	check "  and is told why" grep -q "admin_group may change" /tmp/t.err.$$
	check "  naming mxcached's user and the admin group" grep -q "(mxcached runs as $DUSER; admin_group is $ADMIN_GID)" /tmp/t.err.$$
done
expect_rc 1 "a refused change is not there" "$SHMCTL" -d "$D" resolve reader1.priv.test
expect_rc 4 "nor may it delete" "${READER[@]}" "$SHMCTL" -d "$D" override del root.priv.test
expect_rc 0 "  which is still there" "$SHMCTL" -d "$D" resolve root.priv.test
DGROUP=$(getent group "$DGID" | cut -d: -f1)
expect_rc 3 "a user outside the group cannot map the region" "${OTHER[@]}" "$SHMCTL" -d "$D" resolve root.priv.test
check "  told which file" grep -q "cannot read its region $data: Permission denied" /tmp/t.err.$$
check "  and which group it needs, named from the file" \
	grep -q "$data is open to group '$DGROUP' (gid $DGID) (mode 0640): reads need membership in it" /tmp/t.err.$$
expect_rc 4 "nor reach ctl.sock" "${OTHER[@]}" "$SHMCTL" -d "$D" ping
check "  told which group ctl.sock is open to" \
	grep -q "$D/ctl.sock is open to group '$DGROUP' (gid $DGID) (mode 0660): asking mxcached anything needs membership" /tmp/t.err.$$
check "a client of the group cannot open the data area for writing" \
	bash -c "! ${READER[*]} sh -c 'exec 3<>\"\$1\"' _ '$data' 2>/dev/null"
check "  (the test itself can: it is root)" sh -c "exec 3<>'$data'"
sleep 0.2   # the counters reach the region at the writer's next tick
check "refusals are counted" sh -c "'$SHMCTL' -d '$D' status --json | grep -q '\"ctl_denied_total\":4'"
check "and logged once" test "$(grep -c 'may not change the caches' "$D/daemon.log")" -eq 1

# --- the tracker's inputs go nowhere, only counts
check "a connecting server is reported" "$TOOLS/server_post" "$D" 198.51.100.77 sender.priv.test 3
for i in $(seq 1 50); do
	"$SHMCTL" -d "$D" servers --json 2>/dev/null | grep -q '"unique_conn_ips": *1' && break
	sleep 0.1
done
expect_rc 0 "it is counted" sh -c "'$SHMCTL' -d '$D' servers --json | grep -q '\"unique_conn_ips\": *1'"
check "the IP is in no file of the state directory" bash -c "! grep -rqa '198.51.100.77' '$D' --exclude=daemon.log"
check "nor the sender's domain" bash -c "! grep -rqa 'sender.priv.test' '$D' --exclude=daemon.log"
check "nor in the region" bash -c "! grep -qa -e '198.51.100.77' -e 'sender.priv.test' '$data'"
check "nor in the daemon's log" bash -c "! grep -qa -e '198.51.100.77' -e 'sender.priv.test' '$D/daemon.log'"

# --- restart: the files are the user's now, nothing is lost
check "mxcached stops cleanly" daemon_stop "$D"
check "and starts again as $DUSER" daemon_start "$D" -c "$D/mxcached.conf"
expect_out "192.0.2.3" "every acknowledged change is there" "$SHMCTL" -d "$D" resolve admin.priv.test
expect_rc 1 "and no refused one" "$SHMCTL" -d "$D" resolve reader2.priv.test
check "mxcached stops" daemon_stop "$D"

# --- a user that is not root cannot become another
new_dir E
chown 4000 "$E"
printf '[daemon]\nuser = %s\n' "$DUSER" >"$E/c.conf"
chmod 644 "$E/c.conf"
expect_rc 1 "mxcached as another user with [daemon] user = $DUSER refuses to start" \
	"${OTHER[@]}" "$MXCACHED" -d "$E" -f -c "$E/c.conf"
check "  saying why" grep -q "cannot change user" /tmp/t.err.$$
printf '[daemon]\nuser = no-such-user-here\n' >"$E/bad.conf"
expect_rc 1 "an unknown [daemon] user is a config error" "$MXCACHED" -d "$E" -f -c "$E/bad.conf"
check "  naming the line" grep -q "bad.conf:2: daemon.user: no user named" /tmp/t.err.$$
printf '[ctl]\nadmin_group = no-such-group-here\n' >"$E/bad.conf"
expect_rc 1 "an unknown [ctl] admin_group is a config error" "$MXCACHED" -d "$E" -f -c "$E/bad.conf"
done_testing
