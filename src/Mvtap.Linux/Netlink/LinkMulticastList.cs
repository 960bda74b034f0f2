// The link-layer multicast list of interfaces in one network namespace, read from
// /proc/net/dev_mcast: rtnetlink has no dump of it, yet it is exactly what the kernel's macvlan
// builds an endpoint's multicast filter from (spec 1.5, ndo_set_rx_mode): IPv6 33:33:… and IPv4
// 01:00:5e:… groups of the IP stack, `ip maddr add`, packet sockets' PACKET_MR_MULTICAST.
// The file is opened through /proc/thread-self (a thread inside the namespace), after which it
// stays bound to that namespace; the seq file is re-read from offset 0 each time.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed unsafe class LinkMulticastList : IDisposable
{
    private readonly FileDescriptor _fd;
    private byte[] _buffer = new byte[8192];

    private LinkMulticastList(FileDescriptor fd) => _fd = fd;

    /// <summary>Opens the list of the calling thread's network namespace (not the process's: /proc/self/net
    /// would be the main thread's namespace).</summary>
    public static LinkMulticastList OpenCurrent() => new(FileIo.Open("/proc/thread-self/net/dev_mcast", FileIo.O_RDONLY));

    /// <summary>The multicast addresses of interface <paramref name="ifIndex"/>, in file order.</summary>
    public List<MacAddress> Read(int ifIndex)
    {
        int length = ReadAll();
        var groups = new List<MacAddress>();
        Parse(Encoding.ASCII.GetString(_buffer, 0, length), ifIndex, groups);
        return groups;
    }

    private int ReadAll()
    {
        int total = 0;
        while (true)
        {
            if (total == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            nint n;
            fixed (byte* p = _buffer) n = FileIo.pread(_fd.Fd, p + total, (nuint)(_buffer.Length - total), total);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Sockets.EINTR) continue;
                throw new SystemCallException("pread(dev_mcast)", errno);
            }
            if (n == 0) return total;
            total += (int)n;
        }
    }

    /// <summary>Lines are "ifindex name users global_use address-in-hex" (net/core/dev_addr_lists.c dev_mc_seq_show);
    /// only 6-byte (Ethernet) addresses of <paramref name="ifIndex"/> are kept.</summary>
    public static void Parse(string text, int ifIndex, ICollection<MacAddress> into)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 5 || !int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index != ifIndex) continue;
            // exactly 12 hex digits: ulong.TryParse alone also takes trailing NULs ("3333\0\0...")
            if (f[4].Length != 12 || !f[4].All(char.IsAsciiHexDigit)
                || !ulong.TryParse(f[4], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong mac)) continue;
            into.Add(new MacAddress(mac));
        }
    }

    public void Dispose() => _fd.Dispose();
}
