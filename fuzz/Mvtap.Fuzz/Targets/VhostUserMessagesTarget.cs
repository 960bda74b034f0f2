// vhost-user requests, as a frontend writes them, into a fresh VhostUserNetBackend's session
// (VhostUserConnection framing, MessageValidator, every handler, REPLY_ACK), served to the end
// of the stream. Input: records of one control byte — bits 0-3 how many descriptors to attach
// (more than 8 is a framing error), bits 4-5 their kind (GuestFiles.Kind), bit 6: this backend
// maps only sealed memory, guestmem sealed (first record only; else guestmem any) — then a 16-bit length and raw bytes (headers,
// payloads, or a lie about either). A protocol error may end the session; nothing may throw out
// of Serve, the backend must be disconnected and reset after it, and no descriptor may leak.
using Mvtap.Core.Model;
using Mvtap.Fuzz.Support;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Net;

namespace Mvtap.Fuzz.Targets;

public static class VhostUserMessagesTarget
{
    /// <summary>Input beyond this is cut, so the replies fit in the socket buffer unread.</summary>
    private const int MaxInput = 16 * 1024;

    public static void Run(ReadOnlySpan<byte> data)
    {
        // the runtime opens a few descriptors for good the first time a path runs (socket and
        // thread-pool plumbing): a leak is one that happens again when the input is repeated
        if (Session(data) > 0 && Session(data) is > 0 and var leaked) throw new InvalidOperationException($"{leaked} descriptors leaked");
    }

    /// <summary>One session over the input; how many more descriptors are open after it.</summary>
    private static int Session(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data[..Math.Min(data.Length, MaxInput)]);
        int before = GuestFiles.OpenDescriptors();
        var policy = data.Length > 0 && (data[0] & 0x40) != 0 ? GuestMemoryPolicy.Sealed : GuestMemoryPolicy.Any;
        var backend = new VhostUserNetBackend(maxQueuePairs: 2) { GuestMemory = policy };
        using (var wire = new VhostUserWire())
        {
            Span<int> fds = stackalloc int[15];
            while (!input.IsEmpty)
            {
                byte control = input.Byte();
                var bytes = input.Record();
                int n = control & 0x0F;
                for (int i = 0; i < n; i++) fds[i] = GuestFiles.Kind((control >> 4) + i);
                try { wire.SendRaw(bytes, fds[..n]); }
                catch (Mvtap.Linux.Interop.SystemCallException) { break; } // the backend's end is not read yet: never
            }
            wire.EndRequests();
            backend.Serve(wire.BackendEnd);
            if (backend.IsConnected) throw new InvalidOperationException("the session ended but the backend says connected");
            for (int v = 0; v < 4; v++)
                if (backend.GetVringStatus(v) is { Started: true } or { Size: not 0 })
                    throw new InvalidOperationException($"vring {v} not reset after the session");
            wire.DrainUntilClosed();
        }
        backend.Dispose();
        return GuestFiles.OpenDescriptors() - before;
    }
}
