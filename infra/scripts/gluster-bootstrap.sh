#!/bin/bash
# GlusterFS + NFS-Ganesha bootstrap of one server of the seldon-bench pair.
#
# Installed by cloud-init (infra/userdata.py renders the node settings below) and run by
# gluster-bootstrap.service at every boot. Every step looks at the current state first, so a
# second run on a formed pair changes nothing and a run interrupted half-way (reboot, apt
# mirror down, peer not up yet) finishes the job the next time.
#
# The first server probes its peer and creates, configures and starts the replica-2 volume; both
# wait until it is Started and then serve it over NFSv4 through NFS-Ganesha (FSAL_GLUSTER),
# because Kubernetes >= 1.26 has no in-tree glusterfs volume plugin.
set -euo pipefail

# --- node settings, rendered per server (the environment overrides them, as the tests do) -----
# SELF/PEER: private IPs of this server and of the other one. IS_FIRST=1 on the server that
# forms the pool and the volume. The brick is a subdir of the mount, so a missing mount fails the
# brick instead of filling the root disk. BRICK_DEVICE empty: use the blank disk of BRICK_SIZE_GIB.
: "${SELF:=@SELF@}"
: "${PEER:=@PEER@}"
: "${IS_FIRST:=@IS_FIRST@}"
: "${VOLUME:=@VOLUME@}"
: "${BRICK_SIZE_GIB:=@BRICK_SIZE_GIB@}"
: "${BRICK_MOUNT:=/data/glusterfs/${VOLUME}}"
: "${BRICK_DIR:=${BRICK_MOUNT}/brick1}"
: "${BRICK_DEVICE:=}"
: "${GANESHA_DIR:=/etc/ganesha}"
# How long to wait for a disk, the peer or the volume, and how often to look.
: "${WAIT_SECONDS:=1800}"
: "${POLL_SECONDS:=5}"
# Tests: SKIP_INSTALL=1 (packages present), MANAGE_SERVICES=0 (no systemd; glusterd runs already).
: "${SKIP_INSTALL:=0}"
: "${MANAGE_SERVICES:=1}"

PACKAGES=(glusterfs-server nfs-ganesha nfs-ganesha-gluster xfsprogs)

# To stderr: functions that print a result on stdout log too.
log() { printf '%s gluster-bootstrap: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Run "$@" until it succeeds, at most WAIT_SECONDS; $1 says what we wait for.
wait_until() {
  local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "gave up after ${WAIT_SECONDS}s waiting for ${what}"
    fi
    sleep "$POLL_SECONDS"
  done
}

# --- packages ----------------------------------------------------------------------------------

package_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

apt_install() {
  apt-get -o DPkg::Lock::Timeout=600 update -q &&
    apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold install -y -q --no-install-recommends "${PACKAGES[@]}"
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    package_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "packages present"
    return
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No service may start from the maintainer scripts: nfs-ganesha would come up with Debian's
  # sample config before gv0 exists. This script starts each service when its turn comes.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  wait_until "apt-get install ${PACKAGES[*]}" apt_install
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
}

# --- brick disk --------------------------------------------------------------------------------

# Print the one blank disk of exactly BRICK_SIZE_GIB (no partitions, no filesystem, unmounted):
# /dev/xvdf on Xen types such as m3, /dev/nvme1n1 on Nitro types. The size pins the EBS brick
# and never matches an instance-store or root disk by accident unless they are also blank.
find_blank_disk() {
  local want=$((BRICK_SIZE_GIB * 1024 * 1024 * 1024)) name size type found=""
  while read -r name size type; do
    if [ "$type" != disk ] || [ "$size" != "$want" ]; then continue; fi
    # Blank: the disk alone (no partitions) and no filesystem signature or mount on it.
    [ "$(lsblk -nro NAME "$name" | wc -l)" -eq 1 ] || continue
    [ -z "$(lsblk -ndro FSTYPE,MOUNTPOINT "$name" | tr -d '[:space:]')" ] || continue
    [ -z "$(blkid -p -o value -s TYPE "$name" 2>/dev/null || true)" ] || continue
    if [ -n "$found" ]; then
      log "two blank ${BRICK_SIZE_GIB} GiB disks: $found and $name; set BRICK_DEVICE"
      return 1
    fi
    found=$name
  done < <(lsblk -dnpbo NAME,SIZE,TYPE)
  [ -n "$found" ] && printf '%s\n' "$found"
}

brick_in_fstab() {
  awk -v m="$BRICK_MOUNT" '$1 !~ /^#/ && $2 == m { f = 1 } END { exit !f }' /etc/fstab
}

prepare_brick() {
  local dev uuid
  if mountpoint -q "$BRICK_MOUNT"; then
    log "brick filesystem mounted on $BRICK_MOUNT"
  elif brick_in_fstab; then
    # Formatted on an earlier boot: only mount it (nofail may have let the boot go on without it).
    mkdir -p "$BRICK_MOUNT"
    wait_until "the brick filesystem of /etc/fstab" mount "$BRICK_MOUNT"
    log "mounted $BRICK_MOUNT from /etc/fstab"
  else
    if [ -n "$BRICK_DEVICE" ]; then
      dev=$BRICK_DEVICE
      wait_until "brick device $dev" test -b "$dev"
    else
      wait_until "a blank ${BRICK_SIZE_GIB} GiB disk" find_blank_disk >/dev/null
      dev=$(find_blank_disk)
    fi
    case "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null || true)" in
      "")
        log "formatting $dev as XFS"
        # 512-byte inodes leave room for Gluster's extended attributes.
        mkfs.xfs -q -i size=512 "$dev"
        ;;
      xfs) log "$dev already holds XFS; keeping it" ;;
      *) die "$dev holds another filesystem; refusing to format it" ;;
    esac
    uuid=$(blkid -o value -s UUID "$dev")
    [ -n "$uuid" ] || die "no filesystem UUID on $dev"
    mkdir -p "$BRICK_MOUNT"
    # By UUID: NVMe device names are not stable across reboots.
    printf 'UUID=%s %s xfs defaults,noatime,inode64,nofail 0 2\n' "$uuid" "$BRICK_MOUNT" >>/etc/fstab
    mount "$BRICK_MOUNT"
    log "mounted $dev on $BRICK_MOUNT"
  fi
  mkdir -p "$BRICK_DIR"
}

# --- glusterd, pool and volume -----------------------------------------------------------------

# Bounded: a CLI call made while glusterd is still starting can otherwise block for minutes.
glusterd_answers() { timeout 30 gluster --mode=script pool list >/dev/null 2>&1; }

start_glusterd() {
  if [ "$MANAGE_SERVICES" = 1 ]; then
    systemctl is-enabled --quiet glusterd || systemctl enable glusterd
    systemctl is-active --quiet glusterd || systemctl start glusterd
  fi
  wait_until "glusterd to answer" glusterd_answers
  log "glusterd answers"
}

peer_connected() {
  local out
  out=$(gluster --mode=script peer status 2>/dev/null) || return 1
  awk -v p="$PEER" '
    $1 == "Hostname:" { host = ($2 == p) }
    host && /State: Peer in Cluster \(Connected\)/ { f = 1 }
    END { exit !f }' <<<"$out"
}

probe_peer() { peer_connected || { gluster --mode=script peer probe "$PEER" >/dev/null 2>&1 && peer_connected; }; }

volume_exists() { gluster --mode=script volume info "$VOLUME" >/dev/null 2>&1; }

volume_started() {
  local out
  out=$(gluster --mode=script volume info "$VOLUME" 2>/dev/null) || return 1
  grep -q '^Status: Started$' <<<"$out"
}

create_volume() {
  volume_exists && return 0
  # A create that failed on the peer (its brick not mounted yet) still marks this brick as part
  # of a volume, and every retry would fail with "already part of a volume": while no volume
  # exists and the brick holds no data, start again from an empty brick directory.
  if [ -z "$(find "$BRICK_DIR" -mindepth 1 -maxdepth 1 ! -name .glusterfs -print -quit)" ]; then
    rm -rf "$BRICK_DIR"
    mkdir -p "$BRICK_DIR"
  fi
  gluster --mode=script volume create "$VOLUME" replica 2 \
    "${SELF}:${BRICK_DIR}" "${PEER}:${BRICK_DIR}" >&2
}

cache_invalidation_on() {
  local out
  out=$(gluster --mode=script volume get "$VOLUME" features.cache-invalidation 2>/dev/null) || return 1
  awk '$1 == "features.cache-invalidation" && $2 == "on" { f = 1 } END { exit !f }' <<<"$out"
}

form_volume() {
  if ! volume_exists; then
    wait_until "peer $PEER to join the pool" probe_peer
    log "peer $PEER connected"
    # The peer may still be settling right after the probe: retry until the volume exists.
    wait_until "volume $VOLUME to be created" create_volume
    log "created volume $VOLUME (replica 2: ${SELF}:${BRICK_DIR} ${PEER}:${BRICK_DIR})"
  fi
  if ! cache_invalidation_on; then
    # NFS-Ganesha's upcalls need it to see changes made through the other server.
    gluster --mode=script volume set "$VOLUME" features.cache-invalidation on >/dev/null
    log "set features.cache-invalidation on"
  fi
  if ! volume_started; then
    gluster --mode=script volume start "$VOLUME" >/dev/null
    log "started volume $VOLUME"
  fi
}

local_brick_online() {
  local out
  out=$(gluster --mode=script volume status "$VOLUME" "${SELF}:${BRICK_DIR}" detail 2>/dev/null) || return 1
  awk -F: '$1 ~ /^Online/ && $2 ~ /Y/ { f = 1 } END { exit !f }' <<<"$out"
}

ensure_brick_online() {
  if local_brick_online; then
    log "brick ${SELF}:${BRICK_DIR} online"
    return
  fi
  # glusterd started before the brick filesystem was mounted (a disk that came late at boot), so
  # it could not start the brick then: "start force" starts just the bricks that are down.
  gluster --mode=script volume start "$VOLUME" force >/dev/null
  wait_until "brick ${SELF}:${BRICK_DIR} to come online" local_brick_online
  log "brick ${SELF}:${BRICK_DIR} started"
}

# --- NFS-Ganesha -------------------------------------------------------------------------------

write_ganesha_conf() {
  local conf=$GANESHA_DIR/ganesha.conf new
  mkdir -p "$GANESHA_DIR"
  new=$(mktemp)
  cat >"$new" <<'GANESHA_CONF'
@GANESHA_CONF@
GANESHA_CONF
  if cmp -s "$new" "$conf"; then
    rm -f "$new"
    return 1
  fi
  install -m 0644 "$new" "$conf"
  rm -f "$new"
  log "wrote $conf"
}

start_ganesha() {
  local changed=0
  write_ganesha_conf && changed=1
  if [ "$MANAGE_SERVICES" = 1 ]; then
    systemctl is-enabled --quiet nfs-ganesha || systemctl enable nfs-ganesha
    # --no-block: nfs-ganesha is ordered after this unit, so waiting here would deadlock.
    if [ "$changed" = 1 ] || ! systemctl is-active --quiet nfs-ganesha; then
      systemctl restart --no-block nfs-ganesha
      log "nfs-ganesha (re)start queued"
    fi
  fi
}

main() {
  log "node $SELF (peer $PEER, first=$IS_FIRST), volume $VOLUME"
  [ "$SKIP_INSTALL" = 1 ] || install_packages
  prepare_brick
  start_glusterd
  if [ "$IS_FIRST" = 1 ]; then
    form_volume
  fi
  wait_until "volume $VOLUME to be Started" volume_started
  log "volume $VOLUME is Started"
  ensure_brick_online
  start_ganesha
  log "done"
}

# Sourcing the file (the tests do) only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
