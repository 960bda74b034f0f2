// Checks a request against the shape its type requires before any handler sees it: header
// version and flags, exact payload size, number of attached descriptors. Anything unknown or
// malformed is refused here (rust-vmm's "every message validated" rule).
using System.Buffers.Binary;

namespace Mvtap.VhostUser.Protocol;

public static class MessageValidator
{
    /// <summary>Returns null if the message is well-formed, else why not.</summary>
    public static string? Validate(VhostUserHeader header, ReadOnlySpan<byte> payload, int fdCount)
    {
        if ((header.Flags & VhostUserHeader.VersionMask) != VhostUserHeader.Version)
            return $"unsupported protocol version in flags 0x{header.Flags:x}";
        if ((header.Flags & VhostUserHeader.ReplyFlag) != 0)
            return "a request must not carry the REPLY flag";

        var request = (VhostUserRequest)header.Request;
        int? size = ExpectedSize(request, payload);
        if (size is null) return $"unsupported request {header.Request}";
        if (size.Value < 0) return $"{request}: malformed memory table";
        if (payload.Length != size.Value) return $"{request}: payload is {payload.Length} bytes, expected {size.Value}";

        int fds = ExpectedFds(request, payload);
        if (fdCount != fds) return $"{request}: {fdCount} descriptors attached, expected {fds}";
        return null;
    }

    /// <summary>The payload size a request must have; null for requests this backend does not
    /// implement, -1 for a memory table whose region count is impossible.</summary>
    private static int? ExpectedSize(VhostUserRequest request, ReadOnlySpan<byte> payload) => request switch
    {
        VhostUserRequest.GetFeatures or VhostUserRequest.SetOwner or VhostUserRequest.ResetOwner
            or VhostUserRequest.GetProtocolFeatures or VhostUserRequest.GetQueueNum
            or VhostUserRequest.GetStatus => 0,
        VhostUserRequest.SetFeatures or VhostUserRequest.SetProtocolFeatures or VhostUserRequest.SetStatus
            or VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr => 8,
        VhostUserRequest.SetVringNum or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase
            or VhostUserRequest.SetVringEnable => VringState.Length,
        VhostUserRequest.SetVringAddr => VringAddress.Length,
        VhostUserRequest.SetMemTable => MemoryTableSize(payload),
        _ => null,
    };

    private static int MemoryTableSize(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < VhostUserPayload.MemoryTableHeader) return VhostUserPayload.MemoryTableHeader;
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (n == 0 || n > VhostUserPayload.MaxMemoryRegions) return -1;
        return VhostUserPayload.MemoryTableHeader + (int)n * MemoryRegionDescriptor.Length;
    }

    private static int ExpectedFds(VhostUserRequest request, ReadOnlySpan<byte> payload) => request switch
    {
        VhostUserRequest.SetMemTable => (int)BinaryPrimitives.ReadUInt32LittleEndian(payload),
        VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr =>
            (VhostUserPayload.ReadU64(payload) & VhostUserPayload.VringNoFdFlag) != 0 ? 0 : 1,
        _ => 0,
    };
}
