#!/bin/sh
# busybox udhcpc's event script in the test guest (/udhcpc.sh, used when mvtap.ip=dhcp): puts the
# leased address on the interface and prints "MVTAP-LEASE <addr>" on the console for the test.
case "$1" in
    deconfig) ip addr flush dev "$interface" ;;
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        echo "MVTAP-LEASE $ip"
        ;;
esac
