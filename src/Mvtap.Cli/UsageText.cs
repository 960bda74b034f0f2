// The help texts for `mvtap help` and `mvtap link help`, shaped like ip's.
namespace Mvtap.Cli;

internal static class UsageText
{
    public const string Main =
        "Usage: mvtap [ OPTIONS ] OBJECT { COMMAND | help }\n" +
        "where  OBJECT := { link | qemu | libvirt | run | cni | demo | monitor | capture | doctor | help }\n" +
        "       OPTIONS := { -s[tatistics] | -d[etails] | -j[son] | -p[retty] | -V[ersion] |\n" +
        "                    -k[ernel] | -r[un-dir] DIR | -h[elp] }\n" +
        "       mvtap qemu { DEVICE | dev DEVICE } [ vhost-user | stream | tap ] [ memory SIZE ]\n" +
        "       mvtap libvirt { DEVICE | dev DEVICE } [ queues N ] [ reconnect SECONDS ]\n" +
        "       mvtap run DEVICE -- COMMAND [ ARGS ]\n" +
        "       mvtap cni install [ DIR ]\n" +
        "       mvtap demo\n" +
        "       mvtap monitor [ link ]\n" +
        "       mvtap capture { DEVICE | dev DEVICE } [ DEVICE ... ] [ in | out ] [ count COUNT ] [ snaplen SNAPLEN ] [ -w FILE ]\n" +
        "       mvtap doctor [ state-dir DIR ] [ socket-group GROUP ] [ netns NS ] [ dev LOWER ]...\n";

    public const string Link =
        "Usage: mvtap link add link LOWER [ name ] NAME type { macvtap | macvlan | host }\n" +
        "                      [ mode MODE ] [ flag MODE_FLAG ] [ address LLADDR ]\n" +
        "                      [ bcqueuelen BC_QUEUE_LEN ] [ bclim BC_CUTOFF ]\n" +
        "                      [ macaddr [ set | add ] MAC [ MAC ... ] ]\n" +
        "                      [ owner USER ] [ group GROUP ] [ spoofchk { on | off } ]\n" +
        "                      [ mtu MTU ] [ txqueuelen PACKETS ] [ netns NS ] [ guestmem GUESTMEM ]\n" +
        "                      [ hostaccess { on | off } ] [ up ] [ tap TAPNAME ]\n" +
        "                      [ vhost-user { listen [ PATH ] | connect PATH } ]\n" +
        "\n" +
        "       mvtap link set { DEVICE | dev DEVICE } [ { up | down } ] [ name NEWNAME ]\n" +
        "                      [ address LLADDR ] [ mode MODE ] [ flag MODE_FLAG ] [ netns NS ]\n" +
        "                      [ macaddr { { add | del } MAC [ MAC ... ] | set [ MAC ... ] | flush } ]\n" +
        "                      [ bcqueuelen BC_QUEUE_LEN ] [ bclim BC_CUTOFF ] [ owner USER ]\n" +
        "                      [ group GROUP ] [ spoofchk { on | off } ] [ mtu MTU ] [ txqueuelen PACKETS ]\n" +
        "                      [ guestmem GUESTMEM ] [ hostaccess { on | off } ]\n" +
        "                      [ type { macvtap | macvlan } ARGS ]\n" +
        "\n" +
        "       mvtap link delete { DEVICE | dev DEVICE }\n" +
        "\n" +
        "       mvtap link show [ DEVICE | dev DEVICE ] [ up ] [ type TYPE ]\n" +
        "\n" +
        "MODE: private | vepa | bridge | passthru [ nopromisc ] | source [ nodst ]\n" +
        "MODE_FLAG: null | nopromisc | nodst\n" +
        "BC_QUEUE_LEN: Length of the rx queue for broadcast/multicast: [0-4294967295]\n" +
        "BC_CUTOFF: broadcast queue cutoff (the port's bc_cutoff); negative disables the queue\n" +
        "type host: the lower's host port, an interface NAME in mvtapd's namespace through which the\n" +
        "          host reaches the endpoints whatever their mode (one per lower; no mode of its own)\n" +
        "HOSTACCESS: on (default) the host port reaches this endpoint directly in any mode; off, the\n" +
        "          host port is a bridge endpoint to it (the kernel's rules)\n" +
        "TAPNAME: a macvtap carried by a persistent TAP of that name, made in NS for USER/GROUP,\n" +
        "         whose queue QEMU opens by name (-netdev tap,ifname=TAPNAME,script=no,downscript=no)\n" +
        "GUESTMEM: the guest memory a macvtap's vhost-user frontend may share: sealed (the default)\n" +
        "          only memory sealed against shrinking (QEMU's memory-backend-memfd is); any also\n" +
        "          memory the VM's owner can shrink under mvtapd (DPDK virtio-user, hugepage files,\n" +
        "          memory-backend-file): mvtapd survives that only through an unsupported .NET\n" +
        "          runtime setting it turns on; without it the owner can crash mvtapd and every endpoint\n" +
        "vhost-user: listen (the default): mvtapd listens on <run-dir>/tapN.vhost or PATH and QEMU\n" +
        "          connects (libvirt mode='client'); connect: QEMU listens on PATH (libvirt mode='server')\n" +
        "          and mvtapd dials it, and again after each drop; the frontend must run as the owner\n" +
        "          (root when there is none)\n";
}
