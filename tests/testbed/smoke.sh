#!/usr/bin/env bash
# End-to-end check of scripts/testbed: up, every service reachable the way the integration tests
# use it, up again (idempotent), up after kill -9 of every daemon, a second OSD taking data when
# one is set out, and down leaving nothing behind. Runs in its own folder, so a test bed that is
# already running for this checkout is not touched. Last line: "N passed, N failed".
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTBED=$REPO/scripts/testbed
DIR=$(mktemp -d /tmp/taquin-testbed-smoke.XXXX)
export TAQUIN_TESTBED_DIR=$DIR
WORK=$(mktemp -d /tmp/taquin-smoke-work.XXXX)
PASSED=0
FAILED=0

cleanup() {
  "$TESTBED" down >/dev/null 2>&1 || true
  rm -rf -- "$WORK"
}
trap cleanup EXIT

pass() {
  PASSED=$((PASSED + 1))
  printf 'ok   %s\n' "$1"
}
fail() {
  FAILED=$((FAILED + 1))
  printf 'FAIL %s\n' "$1"
  if [[ -n "${2:-}" ]]; then printf '     %s\n' "${2//$'\n'/$'\n'     }"; fi
}
# check NAME CMD...: runs CMD, passes when it exits 0; its output is shown on failure only
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(tail -n 15 <<<"$out")"; fi
}

secs() { date +%s.%N; }

# exists and is not a zombie (PID 1 here reaps orphans late, so kill -0 is not enough)
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat:0:1}" != Z ]]
}
elapsed() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.1f", b - a }'; }

load_env() {
  # shellcheck disable=SC1091
  source "$DIR/env.sh"
}

daemon_pids() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(p) for s in d["services"].values() for p in s["pids"]))' "$DIR/testbed.json"
}

qemu_pids() {
  local f p
  for f in "$DIR"/libvirt/run/qemu/*.pid; do
    [[ -s "$f" ]] || continue
    p=$(<"$f") # QEMU writes no newline after the pid
    if alive "$p"; then echo "$p"; fi
  done
}

ssh_tb() {
  ssh -p "$TAQUIN_SSH_PORT" -i "$TAQUIN_SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$TAQUIN_SSH_KNOWN_HOSTS" \
    "$TAQUIN_SSH_USER@$TAQUIN_SSH_HOST" "$@"
}

# ---------------------------------------------------------------- checks
check_env_complete() {
  local v missing=()
  for v in TAQUIN_TESTBED_DIR TAQUIN_SSH_HOST TAQUIN_SSH_PORT TAQUIN_SSH_USER TAQUIN_SSH_KEY \
    TAQUIN_SSH_KNOWN_HOSTS TAQUIN_SSH_HOST_KEY_FINGERPRINT TAQUIN_PG_CONNECTION LIBVIRT_DEFAULT_URI \
    TAQUIN_LIBVIRT_URI TAQUIN_LIBVIRT_SSH_URI CEPH_CONF TAQUIN_CEPH_POOL TAQUIN_CEPH_MON_PORT \
    TAQUIN_CEPH_SECRET_UUID TAQUIN_LIBVIRT2_URI; do
    [[ -n "${!v:-}" ]] || missing+=("$v")
  done
  ((${#missing[@]} == 0)) || { echo "missing: ${missing[*]}"; return 1; }
  [[ "$TAQUIN_TESTBED_SERVICES" == "ssh pg libvirt libvirt2 ceph" ]] || { echo "services: $TAQUIN_TESTBED_SERVICES"; return 1; }
  # env prints exactly what env.sh holds, and testbed.json parses
  diff <("$TESTBED" env) "$DIR/env.sh" && python3 -m json.tool "$DIR/testbed.json" >/dev/null
}

check_ssh_key_login() { [[ "$(ssh_tb id -un)" == root ]]; }

check_ssh_fingerprint_pinned() {
  local fp
  fp=$(ssh-keyscan -p "$TAQUIN_SSH_PORT" -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -l -E sha256 -f - | awk '{ print $2 }')
  [[ "$fp" == "$TAQUIN_SSH_HOST_KEY_FINGERPRINT" ]] || { echo "server $fp, env $TAQUIN_SSH_HOST_KEY_FINGERPRINT"; return 1; }
}

check_ssh_other_key_refused() {
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/stranger" <<<y >/dev/null
  if ssh -p "$TAQUIN_SSH_PORT" -i "$WORK/stranger" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o PasswordAuthentication=no -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$TAQUIN_SSH_KNOWN_HOSTS" \
    root@127.0.0.1 true 2>"$WORK/stranger.err"; then
    echo "login with an unknown key succeeded"
    return 1
  fi
  grep -q 'Permission denied (publickey)' "$WORK/stranger.err"
}

check_ssh_reaches_daemons() {
  local out
  out=$(ssh_tb 'virsh list --all >/dev/null && rbd ls -p rbd >/dev/null && ceph health')
  [[ "$out" == HEALTH_OK* ]] || { echo "$out"; return 1; }
}

check_libvirt_over_ssh() { virsh -c "$TAQUIN_LIBVIRT_SSH_URI" list --all >/dev/null; }

check_pg_password_login() {
  PGPASSWORD=$TAQUIN_PG_PASSWORD psql -X -At -h 127.0.0.1 -p "$TAQUIN_PG_PORT" -U postgres -d taquin_test \
    -c 'create table smoke (id int primary key); insert into smoke values (1); select count(*) from smoke' | grep -qx 1
}

check_pg_no_password_refused() {
  if PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p "$TAQUIN_PG_PORT" -U postgres -d taquin_test -c 'select 1' 2>"$WORK/pg.err"; then
    echo "login with a wrong password succeeded"
    return 1
  fi
  grep -q 'password authentication failed' "$WORK/pg.err"
}

check_loopback_only() {
  local pids bad
  pids=" $(daemon_pids) $(qemu_pids | tr '\n' ' ') "
  ss -Hltnp >"$WORK/ss.txt"
  bad=$(while read -r _ _ _ local _ proc; do
    grep -o 'pid=[0-9]*' <<<"$proc" | cut -d= -f2 | while read -r p; do
      if [[ "$pids" == *" $p "* && "$local" != 127.0.0.1:* ]]; then echo "$local $proc"; fi
    done
  done <"$WORK/ss.txt")
  [[ -z "$bad" ]] || { echo "non-loopback listeners: $bad"; return 1; }
  # and every daemon does listen somewhere (the filter above is not vacuous)
  [[ $(grep -cE 'sshd|postgres|ceph-mon|ceph-osd' "$WORK/ss.txt") -ge 4 ]]
}

define_tcg_guest() {
  qemu-img create -q -f qcow2 "$TAQUIN_LIBVIRT_IMAGES/smoke-disk0.qcow2" 64M
  cat >"$WORK/smoke-tcg.xml" <<XML
<domain type='qemu'>
  <name>smoke-tcg</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$TAQUIN_LIBVIRT_IMAGES/smoke-disk0.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:5e:00:01'/><model type='virtio'/><link state='down'/></interface>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
  virsh define "$WORK/smoke-tcg.xml" >/dev/null
}

check_tcg_guest_lifecycle() {
  define_tcg_guest
  virsh start smoke-tcg >/dev/null
  [[ "$(virsh domstate smoke-tcg)" == running ]] || { virsh domstate smoke-tcg; return 1; }
  virsh domblklist smoke-tcg | grep -q smoke-disk0.qcow2
  # no OS: shutdown is accepted but the guest keeps running; destroy is what stops it
  virsh shutdown smoke-tcg >/dev/null
  sleep 1
  [[ "$(virsh domstate smoke-tcg)" == running ]] || { echo "guest without OS stopped on shutdown?"; return 1; }
  virsh destroy smoke-tcg >/dev/null
  [[ "$(virsh domstate smoke-tcg)" == "shut off" ]]
  virsh undefine smoke-tcg >/dev/null
}

check_rbd_round_trip() {
  local pool=$TAQUIN_CEPH_POOL a b c
  head -c $((16 * 1024 * 1024)) /dev/urandom >"$WORK/data.bin"
  a=$(sha256sum <"$WORK/data.bin" | cut -d' ' -f1)
  rbd import --no-progress "$WORK/data.bin" "$pool/smoke-img"
  rbd snap create "$pool/smoke-img@s1" >/dev/null
  b=$(rbd export --no-progress "$pool/smoke-img@s1" - | sha256sum | cut -d' ' -f1)
  rbd export --no-progress "$pool/smoke-img@s1" - | rbd import --no-progress - "$pool/smoke-copy"
  c=$(rbd export --no-progress "$pool/smoke-copy" - | sha256sum | cut -d' ' -f1)
  [[ "$a" == "$b" && "$a" == "$c" ]] || { echo "source $a export $b copy $c"; return 1; }
}

check_rbd_disk_domain() {
  rbd create --size 32 "$TAQUIN_CEPH_POOL/smoke-rbd-disk"
  cat >"$WORK/smoke-rbd.xml" <<XML
<domain type='qemu'>
  <name>smoke-rbd</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='writeback'/>
      <auth username='$TAQUIN_CEPH_USER'><secret type='ceph' uuid='$TAQUIN_CEPH_SECRET_UUID'/></auth>
      <source protocol='rbd' name='$TAQUIN_CEPH_POOL/smoke-rbd-disk'>
        <host name='$TAQUIN_CEPH_MON_HOST' port='$TAQUIN_CEPH_MON_PORT'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
XML
  virsh define "$WORK/smoke-rbd.xml" >/dev/null
  virsh start smoke-rbd >/dev/null
  # QEMU opened the image through librbd: it is the image's watcher
  rbd status "$TAQUIN_CEPH_POOL/smoke-rbd-disk" | grep -q 'watcher='
  virsh destroy smoke-rbd >/dev/null
  virsh undefine smoke-rbd >/dev/null
}

check_live_migration() {
  local mig=(--live --persistent --undefinesource --migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1)
  rbd create --size 32 "$TAQUIN_CEPH_POOL/smoke-mig-disk"
  sed -e 's/smoke-rbd/smoke-mig/; s/smoke-rbd-disk/smoke-mig-disk/' "$WORK/smoke-rbd.xml" >"$WORK/smoke-mig.xml"
  virsh define "$WORK/smoke-mig.xml" >/dev/null
  virsh start smoke-mig >/dev/null
  virsh migrate "${mig[@]}" smoke-mig "$TAQUIN_LIBVIRT2_URI"
  [[ "$(virsh -c "$TAQUIN_LIBVIRT2_URI" domstate smoke-mig)" == running ]]
  if virsh dominfo smoke-mig >/dev/null 2>&1; then echo "still defined on the source"; return 1; fi
  # back, peer-to-peer: the source libvirtd dials the destination itself (qemu+unix, not qemu://)
  virsh -c "$TAQUIN_LIBVIRT2_URI" migrate --p2p "${mig[@]}" smoke-mig "qemu+unix:///system?socket=$TAQUIN_LIBVIRT_SOCKET"
  [[ "$(virsh domstate smoke-mig)" == running ]]
  virsh destroy smoke-mig >/dev/null
  virsh undefine smoke-mig >/dev/null
}

check_idempotent_up() {
  local before after
  before=$(daemon_pids)
  "$TESTBED" up >"$WORK/up2.log" 2>&1 || { cat "$WORK/up2.log"; return 1; }
  after=$(daemon_pids)
  [[ "$before" == "$after" ]] || { echo "pids changed: $before -> $after"; return 1; }
  grep -c 'already running, kept' "$WORK/up2.log" | grep -qx 4 &&
    grep -q 'libvirt2' <<<"$("$TESTBED" status | grep ' ready ')"
}

check_status_reports_ready() { "$TESTBED" status | grep -c ' ready (pids' | grep -qx 5; }

check_osd_out_moves_data() {
  local before
  [[ "$(ceph osd stat -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["num_up_osds"])')" == 2 ]]
  before=$(ceph pg ls-by-osd 1 -f json | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("pg_stats", [])))')
  ((before > 0)) || { echo "osd.1 holds no PG"; return 1; }
  ceph osd out 1 >/dev/null 2>&1
  local i ok=0
  for ((i = 0; i < 240; i++)); do
    if [[ "$(ceph health)" == HEALTH_OK* ]] &&
      ceph pg stat | grep -qE '^[0-9]+ pgs: [0-9]+ active\+clean;' &&
      [[ "$(ceph pg ls-by-osd 1 -f json | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("pg_stats", [])))')" == 0 ]]; then
      ok=1
      break
    fi
    sleep 0.5
  done
  ((ok)) || { ceph -s; return 1; }
  # the data is still all there, now on osd.0 only
  [[ "$(rbd export --no-progress "$TAQUIN_CEPH_POOL/smoke-copy" - | sha256sum | cut -d' ' -f1)" == "$(sha256sum <"$WORK/data.bin" | cut -d' ' -f1)" ]]
}

check_down_leaves_nothing() {
  local pids
  pids="$(daemon_pids) $(qemu_pids | tr '\n' ' ')"
  "$TESTBED" down
  local p left=()
  for p in $pids; do if alive "$p"; then left+=("$p"); fi; done
  ((${#left[@]} == 0)) || { echo "still alive: ${left[*]}"; ps -o pid,stat,args -p "${left[@]}"; return 1; }
  for p in $(pgrep -f -- "$DIR/" || true); do
    if alive "$p"; then echo "process mentions $DIR: $(ps -o pid=,args= -p "$p")"; return 1; fi
  done
  [[ ! -e "$DIR" ]] || { echo "$DIR still exists"; return 1; }
}

# ---------------------------------------------------------------- run
echo "test bed folder: $DIR"
t0=$(secs)
if "$TESTBED" up --libvirt-hosts 2 2>&1 | tee "$WORK/up1.log"; then
  pass "up from scratch ($(elapsed "$t0") s)"
else
  fail "up from scratch"
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
load_env
check "status: every service ready" check_status_reports_ready
check "env: every variable set, env.sh and testbed.json agree" check_env_complete
check "ssh: key login as root" check_ssh_key_login
check "ssh: host key fingerprint equals TAQUIN_SSH_HOST_KEY_FINGERPRINT" check_ssh_fingerprint_pinned
check "ssh: an unknown key is refused" check_ssh_other_key_refused
check "ssh: remote virsh/rbd/ceph reach the test daemons" check_ssh_reaches_daemons
check "libvirt: qemu+ssh URI works" check_libvirt_over_ssh
check "pg: pg_isready" pg_isready -q -h 127.0.0.1 -p "$TAQUIN_PG_PORT"
check "pg: scram login to taquin_test with the password" check_pg_password_login
check "pg: wrong password refused" check_pg_no_password_refused
check "libvirt: TCG guest with qcow2 disk define/start/shutdown-ignored/destroy" check_tcg_guest_lifecycle
check "ceph: HEALTH_OK" grep -q '^HEALTH_OK' <(ceph health)
check "rbd: import/export/import round trip, equal sha256" check_rbd_round_trip
check "libvirt+rbd: domain with an RBD disk starts (ceph secret defined)" check_rbd_disk_domain
check "libvirt: live migration of an RBD-disk guest to libvirt2 and back (p2p)" check_live_migration
define_tcg_guest && virsh start smoke-tcg >/dev/null # running guest: its VNC listener is checked too
check "ss: every test-bed listener is on 127.0.0.1" check_loopback_only
check "up again keeps the running set" check_idempotent_up

echo "RSS (MiB) per daemon:"
all_pids=$({ daemon_pids | tr ' ' '\n'; qemu_pids; } | paste -sd,)
ps -o rss=,comm= -p "$all_pids" | awk '{ printf "  %-16s %6.1f\n", $2, $1 / 1024 }' || true

# every daemon and the guest die without a chance to clean up
old_qemu=$(qemu_pids | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
kill -KILL $(daemon_pids) $old_qemu
sleep 1
t0=$(secs)
if "$TESTBED" up --osds 2 --libvirt-hosts 2 >"$WORK/up3.log" 2>&1; then
  pass "up after kill -9 of every daemon, with 2 OSDs ($(elapsed "$t0") s)"
  cat "$WORK/up3.log"
else
  fail "up after kill -9 of every daemon" "$(tail -n 30 "$WORK/up3.log")"
fi
load_env
check "after restart: ssh, pg, libvirt, ceph answer" bash -c "
  ssh -p $TAQUIN_SSH_PORT -i $TAQUIN_SSH_KEY -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile=$TAQUIN_SSH_KNOWN_HOSTS root@127.0.0.1 true &&
  pg_isready -q -h 127.0.0.1 -p $TAQUIN_PG_PORT && virsh list >/dev/null && ceph health | grep -q HEALTH_OK"
stale_guest_gone() {
  local p
  for p in $old_qemu; do
    if alive "$p"; then return 1; fi
  done
}
check "after restart: the stale guest is gone" stale_guest_gone
check "rbd: round trip on 2 OSDs" check_rbd_round_trip
check "ceph: osd.1 out, PGs move to osd.0, HEALTH_OK, data intact" check_osd_out_moves_data
check "down: no process left, folder removed" check_down_leaves_nothing

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
