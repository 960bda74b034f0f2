// A netlink socket that sends one request at a time and collects its answer: the reply messages
// of a dump or get, or the acknowledgement, with the kernel's extended-ack message on error.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Mvtap.Linux.Interop;

namespace Mvtap.Linux.Netlink;

/// <summary>A netlink request the kernel refused: its errno and, when it gave one, its extended-ack message.</summary>
public class NetlinkException(int errno, string? kernelMessage, string request)
    : Exception($"{request}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})" + (kernelMessage is null ? "" : $": {kernelMessage}"))
{
    public int Errno { get; } = errno;
    /// <summary>NLMSGERR_ATTR_MSG, e.g. "Invalid MAC address"; null if the kernel sent none.</summary>
    public string? KernelMessage { get; } = kernelMessage;
}

/// <summary>One reply message: its type, flags and payload (after the nlmsghdr).</summary>
public readonly record struct NetlinkMessage(ushort Type, ushort Flags, ReadOnlyMemory<byte> Payload);

public sealed unsafe class NetlinkSocket : IDisposable
{
    private readonly FileDescriptor _fd;
    private readonly byte[] _receive = new byte[64 * 1024];
    private uint _sequence = (uint)Environment.TickCount;

    /// <summary>Opens a netlink socket of <paramref name="protocol"/> in the calling thread's network namespace.</summary>
    public NetlinkSocket(int protocol = NetlinkAbi.NETLINK_ROUTE)
    {
        _fd = Sockets.Open(Sockets.AF_NETLINK, Sockets.SOCK_RAW, protocol);
        try
        {
            SockaddrNl local = new() { Family = Sockets.AF_NETLINK };
            Libc.Check(Sockets.bind(_fd.Fd, &local, (uint)sizeof(SockaddrNl)), "bind(netlink)");
            Sockets.SetInt(_fd, NetlinkAbi.SOL_NETLINK, NetlinkAbi.NETLINK_EXT_ACK, 1, "setsockopt(NETLINK_EXT_ACK)");
            // Error replies then carry only the request's header, not the whole request.
            Sockets.SetInt(_fd, NetlinkAbi.SOL_NETLINK, NetlinkAbi.NETLINK_CAP_ACK, 1, "setsockopt(NETLINK_CAP_ACK)");
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    public FileDescriptor Handle => _fd;

    /// <summary>
    /// Sends the request and returns the reply messages. A dump (NLM_F_DUMP) ends at NLMSG_DONE;
    /// anything else is sent with NLM_F_ACK and ends at the acknowledgement.
    /// </summary>
    public List<NetlinkMessage> Request(NetlinkMessageBuilder request, string what)
    {
        // A dump that raced with a change is flagged NLM_F_DUMP_INTR and may be inconsistent: redo it.
        for (int attempt = 1; ; attempt++)
        {
            var replies = RequestOnce(request, what, out bool interrupted);
            if (!interrupted || attempt == 5) return replies;
        }
    }

    private List<NetlinkMessage> RequestOnce(NetlinkMessageBuilder request, string what, out bool interrupted)
    {
        interrupted = false;
        uint seq = ++_sequence;
        var bytes = request.Finish(seq);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
        bool dump = (flags & NetlinkAbi.NLM_F_DUMP) == NetlinkAbi.NLM_F_DUMP;
        if (!dump) flags |= NetlinkAbi.NLM_F_ACK;
        var copy = bytes.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(6), flags);
        Send(copy, what);

        var replies = new List<NetlinkMessage>();
        while (true)
        {
            int n = ReceiveOne(what);
            if (ParseReplies(_receive.AsSpan(0, n), seq, dump, what, replies, ref interrupted)) return replies;
        }
    }

    /// <summary>Walks one received datagram of replies to request <paramref name="seq"/>, adding
    /// each reply message to <paramref name="replies"/>; true once the answer is complete (the
    /// acknowledgement, or NLMSG_DONE of a dump). Throws <see cref="NetlinkException"/> for an
    /// error the kernel reports and <see cref="InvalidDataException"/> for a message that does
    /// not fit the datagram.</summary>
    internal static bool ParseReplies(ReadOnlySpan<byte> received, uint seq, bool dump, string what,
        List<NetlinkMessage> replies, ref bool interrupted)
    {
        int n = received.Length;
        int offset = 0;
        while (offset + 16 <= n)
        {
            var hdr = MemoryMarshal.Read<NlMsgHdr>(received[offset..]);
            if (hdr.Length < 16 || offset + hdr.Length > n) throw new InvalidDataException($"{what}: truncated netlink message");
            var payload = received.Slice(offset + 16, (int)hdr.Length - 16);
            offset += NetlinkAbi.Align((int)hdr.Length);
            if (hdr.Sequence != seq) continue; // a stale answer to an earlier, abandoned request
            if ((hdr.Flags & NetlinkAbi.NLM_F_DUMP_INTR) != 0 && hdr.Type != NetlinkAbi.NLMSG_ERROR) interrupted = true;
            switch (hdr.Type)
            {
                case NetlinkAbi.NLMSG_ERROR:
                    if (payload.Length < 4) throw new InvalidDataException($"{what}: truncated netlink error message");
                    int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
                    if (error != 0) throw new NetlinkException(-error, ExtAckMessage(hdr.Flags, payload), what);
                    return true;
                case NetlinkAbi.NLMSG_DONE:
                    // A dump that failed part-way reports the error in NLMSG_DONE's payload.
                    int status = payload.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : 0;
                    if (status < 0) throw new NetlinkException(-status, ExtAckMessage(hdr.Flags, payload, doneMessage: true), what);
                    if (dump) return true;
                    break;
                case NetlinkAbi.NLMSG_NOOP:
                    break;
                default:
                    replies.Add(new NetlinkMessage(hdr.Type, hdr.Flags, payload.ToArray()));
                    break;
            }
        }
        return false;
    }

    private void Send(byte[] message, string what)
    {
        SockaddrNl kernel = new() { Family = Sockets.AF_NETLINK };
        fixed (byte* p = message)
        {
            nint r = Sockets.sendto(_fd.Fd, p, (nuint)message.Length, 0, &kernel, (uint)sizeof(SockaddrNl));
            Libc.Check((long)r, $"sendto(netlink) {what}");
        }
    }

    private int ReceiveOne(string what)
    {
        // Bounded: the kernel answers a request at once; 5 s without a byte means something is badly wrong.
        if ((Sockets.Poll(_fd.Fd, Sockets.POLLIN, 5000) & Sockets.POLLIN) == 0)
            throw new TimeoutException($"{what}: no netlink answer within 5 s");
        fixed (byte* p = _receive)
        {
            nint n;
            do n = Sockets.recvfrom(_fd.Fd, p, (nuint)_receive.Length, Sockets.MSG_TRUNC, null, null);
            while (n < 0 && Marshal.GetLastPInvokeError() == Sockets.EINTR);
            Libc.Check((long)n, $"recv(netlink) {what}");
            if (n > _receive.Length) throw new InvalidDataException($"{what}: netlink message of {n} bytes truncated");
            return (int)n;
        }
    }

    /// <summary>NLMSGERR_ATTR_MSG from the TLVs after struct nlmsgerr (and the echoed request unless capped).</summary>
    private static string? ExtAckMessage(ushort flags, ReadOnlySpan<byte> payload, bool doneMessage = false)
    {
        if ((flags & NetlinkAbi.NLM_F_ACK_TLVS) == 0) return null;
        long offset; // long: an echoed request length near 4 GiB must not wrap
        if (doneMessage) offset = 4;
        else
        {
            if (payload.Length < 20) return null;
            uint requestLength = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
            offset = 4 + ((flags & NetlinkAbi.NLM_F_CAPPED) != 0 ? 16 : ((long)requestLength + 3 & ~3L));
        }
        if (offset > payload.Length) return null;
        var attrs = new NetlinkAttributes(payload[(int)offset..].ToArray());
        return attrs.String(NetlinkAbi.NLMSGERR_ATTR_MSG);
    }

    public void Dispose() => _fd.Dispose();
}
