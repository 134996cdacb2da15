#!/usr/bin/env bash
# The container command of one iago instance of a load-test run: run the test once, keep its
# stats on the data volume, end. One instance per pod of an indexed Job: instance $JOB_COMPLETION_INDEX
# reads $CONFIG_DIR/web-<index>.scala and writes to $RUN_DIR/instance-<index>/.
set -euo pipefail

: "${RUN_DIR:?the directory of the run on the data volume}"
: "${REPLAY:?the replay file}"
: "${CONFIG_DIR:?where the launcher configs are mounted}"
: "${IAGO_HOME:?where the image unpacked iago}"
: "${LAUNCHER:?the iago launcher jar}"
: "${LAUNCHER_XMX:?the heap of the launcher in MiB}"
: "${LIMIT_SECONDS:?the duration of the run plus the grace}"
: "${GRACE_SECONDS:?}"
read -r -a kept <<< "${KEPT_FILES:?stats files kept on the data volume}"
read -r -a tailed <<< "${TAILED_FILES:?logs whose ends are kept}"

index="${JOB_COMPLETION_INDEX:-0}"
out="$RUN_DIR/instance-${index}"
config="$CONFIG_DIR/web-${index}.scala"
parrot='java .*parrot-(server|feeder)\.scala'

if [ ! -s "$REPLAY" ]; then
  echo "iago: the replay file $REPLAY is missing or empty" >&2
  exit 1
fi
if [ ! -f "$config" ]; then
  echo "iago: no launcher config $config for instance $index" >&2
  exit 1
fi
mkdir -p "$out"
cd "$IAGO_HOME"
cp "$config" web.scala
# iago writes these in its working directory: put them on the data volume.
for name in "${kept[@]}"; do
  rm -f "$name"
  ln -s "$out/$name" "$name"
done
date -u +%Y-%m-%dT%H:%M:%SZ > "$out/started"

deadline=$(( $(date +%s) + LIMIT_SECONDS ))
status=0
timeout "$LIMIT_SECONDS" java "-Xmx${LAUNCHER_XMX}M" -jar "$LAUNCHER" -f web.scala || status=$?
# The launcher returns when the feeder and server have ended; should it return earlier, keep
# the pod until they have, and stop them if the run overstays its duration.
while pgrep -f "$parrot" > /dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "iago: still running $GRACE_SECONDS s after the run's duration; stopping it" >&2
    pgrep -f "$parrot" | xargs -r kill || true
    touch "$out/stopped-after-deadline"
    break
  fi
  sleep 5
done
if [ "$status" -eq 124 ]; then
  echo "iago: the launcher outlived the run's duration by $GRACE_SECONDS s; stopped" >&2
  touch "$out/stopped-after-deadline"
  status=0
fi
for name in "${tailed[@]}"; do
  if [ -f "$name" ]; then
    tail -n 2000 "$name" > "$out/$name.tail"
  fi
done
date -u +%Y-%m-%dT%H:%M:%SZ > "$out/ended"
echo "$status" > "$out/exit-status"
exit "$status"
