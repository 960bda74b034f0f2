#!/bin/sh
# /init of the test guest (busybox only). The kernel command line carries the test:
#   mvtap.ip=ADDR/LEN    address of eth0, or mvtap.ip=dhcp: busybox udhcpc asks for one on eth0
#                        (its event script /udhcpc.sh applies the lease and prints it)
#   mvtap.mac=MAC        MAC of eth0 (the same as QEMU's -device mac=, checked by the test)
#   mvtap.ping=A[,B...]  targets pinged in order, each until it answers or the tries run out
#   mvtap.tries=N        tries per target (one echo request, one second wait each)
#   mvtap.serve=1        afterwards read commands from the console instead of powering off:
#                        "ping ADDR TRIES" pings once more, "off" powers off
# Every result is one line the test parses: "MVTAP-UP <mac>", "MVTAP-LEASE <addr>" (dhcp),
# "MVTAP-PING <addr> OK|FAIL",
# "MVTAP-WAIT" (ready for a command), "MVTAP-ERROR <what>".
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin
mount -t sysfs sys /sys

arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "$1"=*) echo "${w#*=}" ;; esac
    done
}

off() {
    echo "MVTAP-OFF"
    poweroff -f
}

# Modules in dependency order, written by the image builder (virtio_net is not built in).
for m in $(cat /modules); do insmod "/lib/modules/$m.ko" 2>/dev/null; done

ip=$(arg mvtap.ip)
mac=$(arg mvtap.mac)
tries=$(arg mvtap.tries)
[ -n "$tries" ] || tries=30

# The NIC appears when virtio_pci has probed it; bounded wait.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -e /sys/class/net/eth0 ]; then echo "MVTAP-ERROR no eth0"; off; fi

ip link set lo up
[ -n "$mac" ] && ip link set eth0 address "$mac"
[ "$ip" = dhcp ] || ip addr add "$ip" dev eth0
ip link set eth0 up
echo "MVTAP-UP $(cat /sys/class/net/eth0/address)"
# Generous for a slow TCG guest: up to 30 discovers, 2 s apart; -n: give up then, -q: exit once bound.
if [ "$ip" = dhcp ] && ! udhcpc -i eth0 -n -q -f -t 30 -T 2 -s /udhcpc.sh; then
    echo "MVTAP-ERROR no DHCP lease"
    off
fi

ping_until() {
    n=0
    while [ $n -lt "$2" ]; do
        if ping -c 1 -W 1 "$1" >/dev/null 2>&1; then echo "MVTAP-PING $1 OK"; return; fi
        n=$((n + 1))
    done
    echo "MVTAP-PING $1 FAIL"
}

for t in $(arg mvtap.ping | tr ',' ' '); do ping_until "$t" "$tries"; done

if [ "$(arg mvtap.serve)" = 1 ]; then
    stty -echo 2>/dev/null
    echo "MVTAP-WAIT"
    while read -r cmd a b; do
        case "$cmd" in
            ping) ping_until "$a" "$b"; echo "MVTAP-WAIT" ;;
            off) break ;;
        esac
    done
fi
off
