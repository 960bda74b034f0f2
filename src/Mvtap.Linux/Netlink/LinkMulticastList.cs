// The link-layer multicast list of interfaces in one network namespace, read from
// /proc/net/dev_mcast: rtnetlink has no dump of it, yet it is exactly what the kernel's macvlan
// builds an endpoint's multicast filter from (spec 1.5, ndo_set_rx_mode): IPv6 33:33:… and IPv4
// 01:00:5e:… groups of the IP stack, `ip maddr add`, packet sockets' PACKET_MR_MULTICAST.
// The file is opened through /proc/thread-self (a thread inside the namespace), after which it
// stays bound to that namespace (and holds it: seq_open_net takes a reference); the seq file is
// re-read with one pread at offset 0, and parsed only when its bytes changed, so a list polled
// often costs one system call per poll while nothing changes.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Mvtap.Core.Frames;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

public sealed unsafe class LinkMulticastList : IDisposable
{
    private readonly FileDescriptor _fd;
    private byte[] _buffer = new byte[4096];
    private byte[] _previous = [];
    private int _previousLength = -1;
    private readonly Dictionary<int, List<MacAddress>> _groups = [];

    private LinkMulticastList(FileDescriptor fd) => _fd = fd;

    /// <summary>Opens the list of the calling thread's network namespace (not the process's: /proc/self/net
    /// would be the main thread's namespace).</summary>
    public static LinkMulticastList OpenCurrent() => new(FileIo.Open("/proc/thread-self/net/dev_mcast", FileIo.O_RDONLY));

    /// <summary>The multicast addresses of interface <paramref name="ifIndex"/>, in file order, read now.</summary>
    public List<MacAddress> Read(int ifIndex)
    {
        Refresh();
        return [.. GroupsOf(ifIndex)];
    }

    /// <summary>Re-reads the list; true when it differs from the previous read (then <see cref="GroupsOf"/> has the new one).</summary>
    public bool Refresh()
    {
        int length = ReadAll();
        if (length == _previousLength && _buffer.AsSpan(0, length).SequenceEqual(_previous.AsSpan(0, length))) return false;
        (_previous, _buffer) = (_buffer, _previous.Length >= _buffer.Length ? _previous : new byte[_buffer.Length]);
        _previousLength = length;
        foreach (var list in _groups.Values) list.Clear();
        ParseAll(_previous.AsSpan(0, length), _groups);
        return true;
    }

    /// <summary>The addresses of <paramref name="ifIndex"/> as of the last <see cref="Refresh"/>.</summary>
    public IReadOnlyList<MacAddress> GroupsOf(int ifIndex) => _groups.TryGetValue(ifIndex, out var l) ? l : [];

    private int ReadAll()
    {
        while (true)
        {
            nint n;
            // one read from offset 0 regenerates the whole file (seq_read fills the buffer while records fit)
            fixed (byte* p = _buffer) n = FileIo.pread(_fd.Fd, p, (nuint)_buffer.Length, 0);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Sockets.EINTR) continue;
                throw new SystemCallException("pread(dev_mcast)", errno);
            }
            if (n < _buffer.Length) return (int)n;
            Array.Resize(ref _buffer, _buffer.Length * 2); // it may not all have fitted
        }
    }

    /// <summary>Lines are "ifindex name users global_use address-in-hex" (net/core/dev_addr_lists.c dev_mc_seq_show);
    /// only 6-byte (Ethernet) addresses of <paramref name="ifIndex"/> are kept.</summary>
    public static void Parse(string text, int ifIndex, ICollection<MacAddress> into)
    {
        var all = new Dictionary<int, List<MacAddress>>();
        ParseAll(Encoding.ASCII.GetBytes(text), all);
        if (all.TryGetValue(ifIndex, out var list)) foreach (var m in list) into.Add(m);
    }

    private static readonly System.Buffers.SearchValues<byte> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF"u8);

    /// <summary>Every interface's 6-byte addresses, by index; lines that do not parse are skipped.</summary>
    internal static void ParseAll(ReadOnlySpan<byte> text, Dictionary<int, List<MacAddress>> into)
    {
        Span<Range> fields = stackalloc Range[6];
        while (text.Length > 0)
        {
            int end = text.IndexOf((byte)'\n');
            var line = end < 0 ? text : text[..end];
            text = end < 0 ? [] : text[(end + 1)..];
            if (Fields(line, fields) < 5) continue;
            if (!int.TryParse(line[fields[0]], NumberStyles.None, CultureInfo.InvariantCulture, out int index)) continue;
            var hex = line[fields[4]];
            // exactly 12 hex digits: ulong.TryParse alone also takes trailing NULs ("3333\0\0...")
            if (hex.Length != 12 || hex.ContainsAnyExcept(HexDigits)
                || !ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong mac)) continue;
            if (!into.TryGetValue(index, out var list)) into[index] = list = [];
            list.Add(new MacAddress(mac));
        }
    }

    // Splits a line at runs of spaces into up to fields.Length fields; returns how many.
    private static int Fields(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        int count = 0, i = 0;
        while (count < fields.Length)
        {
            while (i < line.Length && line[i] == (byte)' ') i++;
            if (i == line.Length) break;
            int start = i;
            while (i < line.Length && line[i] != (byte)' ') i++;
            fields[count++] = new Range(start, i);
        }
        return count;
    }

    public void Dispose() => _fd.Dispose();
}
