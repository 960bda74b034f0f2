// ioctl(2) and struct ifreq: the TUN/TAP and SIOC* interface requests.
using System.Runtime.InteropServices;
using System.Text;

namespace Mvtap.Linux.Interop;

/// <summary>struct ifreq (40 bytes): a 16-byte name, then a 24-byte union.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
public unsafe struct IfReq
{
    public const int NameSize = 16;
    [FieldOffset(0)] public fixed byte Name[16];
    [FieldOffset(16)] public short Flags;        // ifr_flags
    [FieldOffset(16)] public int IntValue;       // ifr_ifindex, ifr_mtu
    [FieldOffset(16)] public ushort HwFamily;    // ifr_hwaddr.sa_family
    [FieldOffset(18)] public fixed byte HwAddress[14]; // ifr_hwaddr.sa_data
    [FieldOffset(16)] public nint Data;          // ifr_data (SIOCETHTOOL's argument)

    public static IfReq ForName(string name)
    {
        IfReq r = default;
        r.SetName(name);
        return r;
    }

    public void SetName(string name)
    {
        int n = Encoding.UTF8.GetByteCount(name);
        if (n >= NameSize) throw new ArgumentException($"interface name '{name}' longer than 15 bytes", nameof(name));
        fixed (byte* p = Name) Encoding.UTF8.GetBytes(name, new Span<byte>(p, NameSize));
    }

    public string GetName()
    {
        fixed (byte* p = Name)
        {
            var s = new ReadOnlySpan<byte>(p, NameSize);
            int end = s.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? s : s[..end]);
        }
    }
}

public static unsafe partial class Ioctl
{
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;
    public const uint SIOCSIFHWADDR = 0x8924;
    public const uint SIOCGIFHWADDR = 0x8927;
    public const uint SIOCGIFINDEX = 0x8933;

    [LibraryImport(Libc.Name, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Libc.Name, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_value(int fd, nuint request, nuint arg);

    /// <summary>An ioctl whose argument is a pointer to a struct or int.</summary>
    public static int WithPointer(FileDescriptor fd, uint request, void* arg, string what)
    {
        int r = Libc.Check(ioctl(fd.Fd, request, arg), what);
        GC.KeepAlive(fd);
        return r;
    }

    /// <summary>An ioctl whose argument is passed by value (TUNSETOFFLOAD, TUNSETPERSIST, TUNSETOWNER).</summary>
    public static int WithValue(FileDescriptor fd, uint request, ulong value, string what)
    {
        int r = Libc.Check(ioctl_value(fd.Fd, request, (nuint)value), what);
        GC.KeepAlive(fd);
        return r;
    }
}
