# The soak's churn and faults (sourced by bench/soak/run.sh, whose variables and helpers they use):
# churn_step (an endpoint added, deleted, set up or down or to another mode), lower_cycle (a lower
# deleted and created again) and kill_restart (mvtapd SIGKILLed and restarted), with the windows in
# which frames may be lost uncounted (window_start/window_end, close_dead_lowers).
# ---- churn ----
RANDOM=$seed
churn_n=0
stable=(m0 v0 s0 t0 m1 v1 s1 t1)
declare -A up_state
for e in "${stable[@]}"; do up_state[$e]=1; done
churn_step() {
  local all=("${stable[@]}" "${churn_live[@]}") r=$((RANDOM % 10)) e
  if (( r < 2 && ${#churn_live[@]} < 4 )); then
    churn_n=$((churn_n + 1))
    local i=$((RANDOM % 2)) modes=(bridge vepa private source) m
    m=${modes[$((RANDOM % 4))]}
    if (( RANDOM % 2 )); then
      e="cm$churn_n"; ack link add link "low$i" name "$e" type macvlan mode "$m" address "02:5a:1$i:00:$(printf %02x $((churn_n % 256))):02" netns "$C" up || return 0
    else
      e="cq$churn_n"; ack link add link "low$i" name "$e" type macvtap mode "$m" address "02:5a:1$i:00:$(printf %02x $((churn_n % 256))):03" up || return 0
    fi
    churn_live+=("$e"); up_state[$e]=1
  elif (( r < 4 && ${#churn_live[@]} > 0 )); then
    local k=$((RANDOM % ${#churn_live[@]}))
    e=${churn_live[$k]}
    # its counters die with it: keep them
    cli -s -j link show "$e" >"$work/mvtap-gone-$e.json" 2>/dev/null || rm -f "$work/mvtap-gone-$e.json"
    ack link del "$e" || return 0
    churn_live=("${churn_live[@]:0:$k}" "${churn_live[@]:$((k + 1))}")
  elif (( r < 7 )); then
    e=${all[$((RANDOM % ${#all[@]}))]}
    if [[ ${up_state[$e]} == 1 ]]; then ack link set "$e" down && up_state[$e]=0 || true
    else ack link set "$e" up && up_state[$e]=1 || true; fi
  else
    local modes=(bridge vepa private)
    e=${all[$((RANDOM % ${#all[@]}))]}
    ack link set "$e" mode "${modes[$((RANDOM % 3))]}" || true
  fi
  echo $((8 + ${#churn_live[@]})) >"$work/endpoints"
}

window_n=0
window_start() { window_n=$((window_n + 1)); acct snapshot "w$window_n-start"; }
window_end() { acct snapshot "w$window_n-end"; echo "$1 w$window_n-start w$window_n-end" >>"$work/windows.txt"; }
# A lower that this mvtapd does not reopen (no --lower-gone) stays dead until mvtapd restarts: what
# its external host sends meanwhile is lost uncounted, so its window lasts until then (or the end).
declare -A dead_since
close_dead_lowers() {   # close_dead_lowers LABEL
  local i
  for i in "${!dead_since[@]}"; do
    acct snapshot "dead$i-$1"
    echo "low$i-not-reopened ${dead_since[$i]} dead$i-$1" >>"$work/windows.txt"
    unset "dead_since[$i]"
  done
}

lower_cycle() {   # lower_cycle i: delete lowi (and exti with it), re-create it 2 s later
  local i=$1
  window_start
  local start="w$window_n-start"
  # Both ends go down first (the kernel closes a device before it unregisters it, too): frames for
  # the wire are then refused and counted by mvtap, nothing crosses the pair, and the kernel's
  # counters of both ends are read at rest before they vanish with it.
  ip -n "${tag}x$i" link set "ext$i" down
  ip -n "$H" link set "low$i" down
  sleep 1
  acct retire "low$i" "${tag}x$i" "ext$i"
  acct retire "low$i/lower" "$H" "low$i"
  ip -n "$H" link del "low$i"
  log "lower low$i deleted"
  sleep 2
  make_lower "$i"
  log "lower low$i re-created"
  sleep 3
  window_end "lower-low$i"
  # did mvtap reopen it? It takes frames from the wire again (the external host's peer always sends
  # broadcasts): a bounded wait for its lower counter to move
  local got0 got1 reopened="" t
  lower_rx() { cli -s -j link show "m$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["lower"]["rx_packets"])' 2>/dev/null || echo 0; }
  got0=$(lower_rx "$i"); got1=$got0
  for t in $(seq 1 "$([[ -n $lower_gone_option ]] && echo 15 || echo 2)"); do sleep 2; got1=$(lower_rx "$i"); (( got1 > got0 )) && { reopened=1; break; }; done
  if [[ -n $reopened ]]; then note "lower low$i re-created at $(date +%T): reopened by mvtapd (it took $((got1 - got0)) frames from the wire within $((2 * t)) s)"
  elif [[ -n $lower_gone_option ]]; then note "FAIL lower low$i re-created at $(date +%T): not reopened (mvtapd took no frame from it in $((2 * t)) s)"
  else
    note "lower low$i re-created at $(date +%T): not reopened; this mvtapd has no --lower-gone (lowers that come back are reopened from the lifecycle work on): its loss is counted in a window until mvtapd restarts"
    [[ -n "${dead_since[$i]:-}" ]] || dead_since[$i]=$start
  fi
}

kill_restart() {
  window_start
  cli -s -j link show >"$work/mvtap-0-prekill.json"
  kill -KILL "$mvtapd_pid"; wait "$mvtapd_pid" 2>/dev/null || true
  log "mvtapd SIGKILLed"
  stop_testpmd
  for i in 0 1; do
    local pv="peer_pid_t$i"
    acct retire "t$i" "$H" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ifname"])' "$work/peer-t$i.${peer_instance[t$i]}.json")"
    kill "${!pv}" 2>/dev/null || true; wait "${!pv}" 2>/dev/null || true
  done
  start_mvtapd
  log "mvtapd restarted"
  cli -d -j link show >"$work/show-restart.json"; mark_acked show-restart.json
  start_testpmd
  for i in 0 1; do start_tap_peer "$i"; done
  sleep 3
  window_end kill
  close_dead_lowers "restart"   # a restarted mvtapd opens them afresh
}

