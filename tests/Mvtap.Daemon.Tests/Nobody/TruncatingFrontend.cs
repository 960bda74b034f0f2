// A hostile vhost-user frontend, as the owner of an endpoint could write one: it shares guest
// memory in a memfd that is not sealed against shrinking, starts both rings of queue pair 0,
// then truncates the memfd to 0 bytes and kicks the transmit ring, so that the backend's next
// look at the ring touches pages that no longer exist (SIGBUS in the daemon, unless the daemon
// refused the memory). It prints what happened, one line per step:
//   "memory table refused" / "memory table accepted", "truncated and kicked",
//   then "backend closed the connection" or "backend kept the connection".
// Exit status 0: it truncated and kicked; 3: the memory was refused.
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.Daemon.Tests.Nobody;

internal static class TruncatingFrontend
{
    public const int Refused = 3;

    public static int Run(string socket)
    {
        using var f = TestFrontend.Connect(socket);
        f.Negotiate(VirtioNetFeatures.Version1 | VirtioNetFeatures.ProtocolFeatures);
        using var memory = new TestGuestMemory(sealShrink: false);
        using var rx = new TestVring(memory, 0);
        using var tx = new TestVring(memory, 1);
        ulong ack;
        try { ack = f.SetMemTable(memory); }
        catch (IOException) { ack = ulong.MaxValue; } // closed without an answer
        if (ack != 0)
        {
            Console.WriteLine("memory table refused");
            Report(f);
            return Refused;
        }
        Console.WriteLine("memory table accepted");
        f.StartVring(rx);
        f.StartVring(tx);
        // From here on our own mapping is gone too: touch no guest memory, only the eventfd.
        Mmap.Truncate(memory.Fd, 0);
        tx.Kick();
        Console.WriteLine("truncated and kicked");
        Report(f);
        return 0;
    }

    private static void Report(TestFrontend f) =>
        Console.WriteLine(f.WaitForClose() ? "backend closed the connection" : "backend kept the connection");
}
