// TUN/TAP uapi (<linux/if_tun.h>): flags, offload bits and ioctl request codes for /dev/net/tun and /dev/tapN.
namespace Mvtap.Linux.Interop;

public static class Tun
{
    public const string CloneDevice = "/dev/net/tun";

    public const short IFF_TUN = 0x0001;
    public const short IFF_TAP = 0x0002;
    public const short IFF_NAPI = 0x0010;
    public const short IFF_NO_CARRIER = 0x0040;
    public const short IFF_MULTI_QUEUE = 0x0100;
    public const short IFF_ATTACH_QUEUE = 0x0200;
    public const short IFF_DETACH_QUEUE = 0x0400;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_ONE_QUEUE = 0x2000;
    public const short IFF_VNET_HDR = 0x4000;

    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;
    public const uint TUN_F_USO4 = 0x20;
    public const uint TUN_F_USO6 = 0x40;

    // _IOW('T', n, int) = 0x40045400 + n; _IOR('T', n, int) = 0x80045400 + n.
    public const uint TUNSETIFF = 0x400454ca;
    public const uint TUNSETPERSIST = 0x400454cb;
    public const uint TUNSETOWNER = 0x400454cc;
    public const uint TUNSETGROUP = 0x400454ce;
    public const uint TUNGETFEATURES = 0x800454cf;
    public const uint TUNSETOFFLOAD = 0x400454d0;
    public const uint TUNGETIFF = 0x800454d2;
    public const uint TUNGETSNDBUF = 0x800454d3;
    public const uint TUNSETSNDBUF = 0x400454d4;
    public const uint TUNGETVNETHDRSZ = 0x800454d7;
    public const uint TUNSETVNETHDRSZ = 0x400454d8;
    public const uint TUNSETQUEUE = 0x400454d9;
    public const uint TUNSETVNETLE = 0x400454dc;
    public const uint TUNGETVNETLE = 0x800454dd;
}
