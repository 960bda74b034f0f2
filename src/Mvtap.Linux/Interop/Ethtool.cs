// SIOCETHTOOL with the legacy struct ethtool_value commands (<linux/ethtool.h>): read and set one
// offload of an interface (TSO, GSO, GRO, the LRO bit of the flags word), for `mvtap doctor` and
// the tests that give a lower the offloads doctor warns about.
namespace Mvtap.Linux.Interop;

public static unsafe class Ethtool
{
    public const uint SIOCETHTOOL = 0x8946;
    public const uint ETHTOOL_GTSO = 0x1e;
    public const uint ETHTOOL_STSO = 0x1f;
    public const uint ETHTOOL_GFLAGS = 0x25;
    public const uint ETHTOOL_GGSO = 0x23;
    public const uint ETHTOOL_GGRO = 0x2b;
    public const uint ETH_FLAG_LRO = 1u << 15;

    /// <summary>struct ethtool_value: the command and its one value.</summary>
    private struct Value
    {
        public uint Cmd;
        public uint Data;
    }

    /// <summary>The value <paramref name="command"/> (an ETHTOOL_G* command) reads for <paramref name="device"/>.</summary>
    public static uint Get(string device, uint command) => Call(device, command, 0);

    /// <summary>Sets the value of <paramref name="command"/> (an ETHTOOL_S* command) for <paramref name="device"/>.</summary>
    public static void Set(string device, uint command, uint value) => Call(device, command, value);

    private static uint Call(string device, uint command, uint data)
    {
        using var fd = Sockets.Open(Sockets.AF_UNIX, Sockets.SOCK_DGRAM, 0); // any socket reaches dev_ioctl
        var value = new Value { Cmd = command, Data = data };
        var req = IfReq.ForName(device);
        req.Data = (nint)(&value);
        Ioctl.WithPointer(fd, SIOCETHTOOL, &req, $"SIOCETHTOOL {command:x} {device}");
        return value.Data;
    }
}
