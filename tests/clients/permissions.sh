#!/usr/bin/env bash
# Who may open the FUSE node, with the daemon as root (allow_other, default_permissions: the
# kernel checks the node's mode and owner): test users and a group made here, removed at
# exit.  --mode 0600 (the default): another user is refused at open (EACCES), so
# tpm2_getrandom fails; --mode 0600 --owner USER: that user gets in, another does not;
# --mode 0660 --owner root:GROUP: a member of GROUP gets in, a non-member does not; --mode
# 0666: everyone does.  A refused open never reaches the daemon (its log names the uid of
# every open it served); an allowed one is served as that uid.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
need_root_tools
chmod 0711 "$T" || fail "chmod $T" # others reach the nodes: their modes are what is tested

prefix=tpmrmc$$
group=${prefix}g
member=${prefix}m
other=${prefix}o
add_group "$group"
add_user "$member" "$group"
add_user "$other"

# mode_owner NAME: the node as stat shows it.
mode_owner() {
	stat -c '%a %U:%G' "$(node "$1")"
}

# refused USER NAME: USER cannot open NAME's node (EACCES), neither directly nor through
# tpm2-tss; the daemon never sees the open.
refused() {
	local u=$1 name=$2 uid out
	uid=$(id -u "$u") || fail "id $u"
	# shellcheck disable=SC2016 # $1 is the inner shell's
	out=$(as_user "$u" bash -c 'exec 3<>"$1"' _ "$(node "$name")" 2>&1) &&
		fail "$u opened the node of $name ($(mode_owner "$name"))"
	[[ $out == *"Permission denied"* ]] || fail "$u: open failed, but not with EACCES: $out"
	out=$(as_user "$u" env TPM2TOOLS_TCTI="device:$(node "$name")" tpm2_getrandom 8 --hex 2>&1) &&
		fail "tpm2_getrandom as $u works on the node of $name ($(mode_owner "$name")): $out"
	[[ $out == *"Permission denied"* ]] || fail "$u: tpm2_getrandom failed, but not with EACCES: $out"
	! grep -q "uid $uid," "$(dlog "$name")" || fail "the daemon $name served an open by refused uid $uid"
}

# allowed USER NAME: tpm2_getrandom as USER works, and the daemon served it as USER's uid.
allowed() {
	local u=$1 name=$2 uid out
	uid=$(id -u "$u") || fail "id $u"
	out=$(as_user "$u" env TPM2TOOLS_TCTI="device:$(node "$name")" tpm2_getrandom 8 --hex) ||
		fail "tpm2_getrandom as $u fails on the node of $name ($(mode_owner "$name"))"
	[[ $out =~ ^[0-9a-f]{16}$ ]] || fail "tpm2_getrandom 8 --hex as $u gave '$out'"
	grep -q "uid $uid," "$(dlog "$name")" || fail "the daemon $name logged no open by uid $uid"
}

log "--mode 0600: root only"
daemon_start a --mode 0600
[ "$(mode_owner a)" = "600 root:root" ] || fail "--mode 0600: the node is $(mode_owner a)"
refused "$member" a
refused "$other" a
allowed root a

log "--mode 0600 --owner $member: that user only"
daemon_start b --mode 0600 --owner "$member"
# No group given: the user's login group, as the daemon's --owner takes it.
[ "$(mode_owner b)" = "600 $member:$(id -gn "$member")" ] || fail "--owner $member: the node is $(mode_owner b)"
allowed "$member" b
refused "$other" b

log "--mode 0660 --owner root:$group: a member of the group, not a non-member"
daemon_start c --mode 0660 --owner "root:$group"
[ "$(mode_owner c)" = "660 root:$group" ] || fail "--mode 0660 --owner root:$group: the node is $(mode_owner c)"
allowed "$member" c
refused "$other" c

log "--mode 0666: everyone"
daemon_start d --mode 0666
[ "$(mode_owner d)" = "666 root:root" ] || fail "--mode 0666: the node is $(mode_owner d)"
allowed "$member" d
allowed "$other" d

finish a b c d
