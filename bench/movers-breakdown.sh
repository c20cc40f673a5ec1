#!/bin/bash
# Where the direct path's time goes (docs/adr/0013): each piece of the pipe alone and in combination, on one
# fully written image of the test bed's Ceph, methods interleaved per round (a shared machine's load hits them
# alike), best round each. Usage: eval "$(scripts/testbed env)"; bench/movers-breakdown.sh [size-MiB] [rounds]
set -euo pipefail
SIZE=${1:-512} ROUNDS=${2:-3}
C=$TAQUIN_CEPH_CONF P=${TAQUIN_CEPH_POOL:-rbd} T=/dev/shm/taquin-breakdown
SSH="ssh -p $TAQUIN_SSH_PORT -i $TAQUIN_SSH_KEY -o UserKnownHostsFile=$TAQUIN_SSH_KNOWN_HOSTS -o BatchMode=yes -o Compression=no"
GCM=aes128-gcm@openssh.com CHACHA=chacha20-poly1305@openssh.com
MUX="-o ControlMaster=auto -o ControlPersist=60 -o ControlPath=/tmp/.taquin-breakdown-%C"
SRC=$P/breakdown-src DST=$P/breakdown-dst
rbd() { command rbd --conf "$C" "$@"; }
clean() { rbd snap purge --no-progress $DST >/dev/null 2>&1 || true; rbd rm --no-progress $DST >/dev/null 2>&1 || true; }
trap 'clean; rbd snap purge --no-progress $SRC >/dev/null 2>&1; rbd rm --no-progress $SRC >/dev/null 2>&1; rm -f $T.*' EXIT
rbd create --size ${SIZE}M $SRC
openssl rand -out $T.fill $((SIZE << 20))
qemu-io -f raw -c "write -s $T.fill 0 ${SIZE}M" "rbd:$SRC:conf=$C" >/dev/null
rbd snap create --no-progress $SRC@s
rbd export --no-progress $SRC@s $T.raw
rbd export-diff --no-progress $SRC@s $T.diff
I="rbd import-diff --no-progress"
# name ^ precreate target (import-diff needs it) ^ command
METHODS=(
  "export > /dev/null^0^rbd export --no-progress $SRC@s - > /dev/null"
  "export-diff > /dev/null^0^rbd export-diff --no-progress $SRC@s - > /dev/null"
  "import - < file in RAM^0^rbd import --no-progress - $DST < $T.raw"
  "import-diff - < file in RAM (stdin: 1 write in flight)^1^$I - $DST < $T.diff"
  "import-diff /dev/stdin < file in RAM (10 in flight)^1^$I /dev/stdin $DST < $T.diff"
  "ssh aes128-gcm: cat > /dev/null^0^$SSH -c $GCM root@127.0.0.1 'cat > /dev/null' < $T.raw"
  "ssh chacha20-poly1305: cat > /dev/null^0^$SSH -c $CHACHA root@127.0.0.1 'cat > /dev/null' < $T.raw"
  "ssh aes128-gcm multiplexed (ControlMaster): cat^0^$SSH -c $GCM $MUX root@127.0.0.1 'cat > /dev/null' < $T.raw"
  "local: export | import^0^rbd export --no-progress $SRC@s - | rbd import --no-progress - $DST"
  "local: export-diff | import-diff -^1^rbd export-diff --no-progress $SRC@s - | $I - $DST"
  "local: export-diff | import-diff /dev/stdin^1^rbd export-diff --no-progress $SRC@s - | $I /dev/stdin $DST"
  "local: export-diff | tee >(wc -c) | import-diff -^1^{ rbd export-diff --no-progress $SRC@s - | tee >(wc -c >&3) | $I - $DST; } 3>/dev/null"
  "local: export-diff | dd bs=4M | import-diff /dev/stdin^1^rbd export-diff --no-progress $SRC@s - | dd bs=4M iflag=fullblock status=none | $I /dev/stdin $DST"
  "ssh gcm: export | ssh | import^0^rbd export --no-progress $SRC@s - | $SSH -c $GCM $MUX root@127.0.0.1 'rbd --conf $C import --no-progress - $DST'"
  "ssh chacha: export | ssh | import^0^rbd export --no-progress $SRC@s - | $SSH -c $CHACHA root@127.0.0.1 'rbd --conf $C import --no-progress - $DST'"
  "ssh gcm: export-diff | tee wc | ssh | import-diff - (mover before)^1^{ rbd export-diff --no-progress $SRC@s - | tee >(wc -c >&3) | $SSH -c $GCM $MUX root@127.0.0.1 'rbd --conf $C import-diff --no-progress - $DST'; } 3>/dev/null"
  "ssh gcm: export-diff | ssh | import-diff -^1^rbd export-diff --no-progress $SRC@s - | $SSH -c $GCM $MUX root@127.0.0.1 'rbd --conf $C import-diff --no-progress - $DST'"
  "ssh gcm: export-diff | ssh | import-diff /dev/stdin (mover now)^1^rbd export-diff --no-progress $SRC@s - | $SSH -c $GCM $MUX root@127.0.0.1 'rbd --conf $C import-diff --no-progress /dev/stdin $DST'"
  "ssh chacha: export-diff | ssh | import-diff /dev/stdin^1^rbd export-diff --no-progress $SRC@s - | $SSH -c $CHACHA root@127.0.0.1 'rbd --conf $C import-diff --no-progress /dev/stdin $DST'"
)
declare -A BEST
echo "# movers breakdown $(date -u +%FT%H:%MZ), $SIZE MiB fully written image, best of $ROUNDS interleaved rounds, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at start"
for ((r = 0; r < ROUNDS; r++)); do
  for m in "${METHODS[@]}"; do
    IFS='^' read -r name pre cmd <<<"$m"
    clean
    [[ $pre == 1 ]] && rbd create --size ${SIZE}M $DST
    s=$(date +%s%N)
    bash -o pipefail -c "rbd() { command rbd --conf '$C' \"\$@\"; }; $cmd" || { echo "FAILED: $name" >&2; exit 1; }
    e=$(date +%s%N)
    d=$(( (e - s) / 1000000 ))
    [[ -z ${BEST[$name]:-} || $d -lt ${BEST[$name]} ]] && BEST[$name]=$d
  done
done
clean
for m in "${METHODS[@]}"; do
  IFS='^' read -r name _ _ <<<"$m"
  ms=${BEST[$name]}
  awk -v n="$name" -v ms="$ms" -v size="$SIZE" 'BEGIN { printf "  %-66s %6.2f s %7.1f MiB/s\n", n, ms / 1000, size / (ms / 1000) }'
done
echo "  (load $(cut -d' ' -f1 /proc/loadavg) at the end)"
