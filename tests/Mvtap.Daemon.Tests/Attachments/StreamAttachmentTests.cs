// tapN.stream, QEMU's `-netdev stream` framing (4-byte big-endian length, raw frame) served by a
// real mvtapd, driven by a C# client per guest: frames pass between two bridge endpoints in
// both sizes, a length outside 14..65535 closes the connection (and the next client is served),
// a second stream client waits while one is attached (and takes over when it goes; a third is
// closed at once), and a vhost-user frontend is refused.
using System.Buffers.Binary;
using static Mvtap.Tests.Stream.StreamClient;

namespace Mvtap.Daemon.Tests.Attachments;

[Collection(TestpmdCollection.Name)]
public sealed class StreamAttachmentTests
{
    private const string MacA = "02:4d:56:00:02:0a", MacB = "02:4d:56:00:02:0b";

    [Fact]
    public void Frames_pass_between_two_stream_guests_bad_lengths_close_and_a_second_client_waits_its_turn()
    {
        using var lab = new MacvtapLab();
        int a = lab.AddMacvtap("sta", MacA);
        int b = lab.AddMacvtap("stb", MacB);
        Assert.True(File.Exists(lab.StreamPath(a)), "tapN.stream");

        using (var ga = Connect(lab.StreamPath(a)))
        using (var gb = Connect(lab.StreamPath(b)))
        {
            Exchange(ga, gb, Frame(60, MacB, MacA, 1));
            Exchange(gb, ga, Frame(1514, MacA, MacB, 2));
            Exchange(ga, gb, Frame(64, MacB, MacA, 3));

            // one guest at a time: a second stream client waits (what it sends is held), a third
            // and a vhost-user frontend are closed at once
            using var second = Connect(lab.StreamPath(a));
            var held = Frame(80, MacB, MacA, 9);
            Send(second, held);
            using (var third = Connect(lab.StreamPath(a))) Assert.True(Closed(third), "a third stream client was kept");
            using (var vhost = Connect(lab.VhostPath(a))) Assert.True(Closed(vhost), "a vhost-user frontend was served next to a stream guest");
            Exchange(ga, gb, Frame(100, MacB, MacA, 4));

            // lengths outside 14..65535 close the connection; the waiting client takes over
            var shortLength = new byte[4 + 13];
            BinaryPrimitives.WriteUInt32BigEndian(shortLength, 13);
            ga.Send(shortLength);
            Assert.True(Closed(ga), "length 13 did not close the connection");
            Assert.True(Arrives(gb, held), "the waiting client's frame did not arrive once it had the endpoint");
            Exchange(gb, second, Frame(90, MacA, MacB, 10));
        }
        using (var ga = Connect(lab.StreamPath(a)))
        using (var gb = Connect(lab.StreamPath(b)))
        {
            Exchange(ga, gb, Frame(60, MacB, MacA, 5)); // the slot was freed: a new guest is served
            var huge = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(huge, 65536);
            gb.Send(huge);
            Assert.True(Closed(gb), "length 65536 did not close the connection");
        }
        var stats = lab.SettledStats("sta");
        Assert.True(stats.TxPackets >= 3);
        Assert.Equal(0, lab.Daemon.Cli("link", "show").Status);
    }
}
