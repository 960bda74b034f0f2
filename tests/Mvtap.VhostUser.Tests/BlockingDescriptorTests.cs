// A frontend shares each kick and call eventfd it sends with mvtapd: one open file description,
// so its O_NONBLOCK is the frontend's to clear at any time. The lower's datapath thread, which
// serves every endpoint of that lower, must not block on such a descriptor: a VM's owner would
// stop all of them. (root: a veth lower in a private namespace.)
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed class BlockingDescriptorTests
{
    [Fact]
    public void A_frontend_that_makes_its_kick_blocking_does_not_stop_the_lower_for_other_endpoints()
    {
        Assert.True(TestHost.IsRoot, "needs root (network namespace, AF_PACKET)");
        using var ns = new KickReplacementTests.ThrowawayLower();
        using var lower = new PacketLower(KickReplacementTests.ThrowawayLower.LowerName, ns.Name);
        using var datapath = new LowerDatapath(lower);
        using var hostile = new KickReplacementTests.Side(datapath, "vbh", MacAddress.Parse("02:4c:00:00:00:0a"));
        using var b = new KickReplacementTests.Side(datapath, "vbb", MacAddress.Parse("02:4c:00:00:00:0b"));
        using var c = new KickReplacementTests.Side(datapath, "vbc", MacAddress.Parse("02:4c:00:00:00:0c"));
        b.Send(c.Mac, 0);
        c.ExpectFrom(b.Mac, 0);
        try
        {
            // its TX kick blocking and unsignalled, then a resync: the datapath reads every kick again
            hostile.MakeTxKickBlocking();
            hostile.ReplaceRxKick();
            for (int i = 1; i <= 20; i++)
            {
                b.Send(c.Mac, i);
                c.ExpectFrom(b.Mac, i);
            }
            Assert.Null(datapath.Fault);
        }
        finally
        {
            hostile.Unblock(); // a datapath blocked in spite of all lets go, so the test can end
        }
    }

    [Fact]
    public void A_frontend_that_makes_its_call_blocking_and_full_does_not_stop_the_lower_for_other_endpoints()
    {
        Assert.True(TestHost.IsRoot, "needs root (network namespace, AF_PACKET)");
        using var ns = new KickReplacementTests.ThrowawayLower();
        using var lower = new PacketLower(KickReplacementTests.ThrowawayLower.LowerName, ns.Name);
        using var datapath = new LowerDatapath(lower);
        using var hostile = new KickReplacementTests.Side(datapath, "vch", MacAddress.Parse("02:4d:00:00:00:0a"));
        using var b = new KickReplacementTests.Side(datapath, "vcb", MacAddress.Parse("02:4d:00:00:00:0b"));
        using var c = new KickReplacementTests.Side(datapath, "vcc", MacAddress.Parse("02:4d:00:00:00:0c"));
        b.Send(c.Mac, 0);
        c.ExpectFrom(b.Mac, 0);
        try
        {
            // its RX call blocking and full: delivering a frame to it must interrupt it, and the
            // write of that interrupt would block whoever makes it
            hostile.JamRxCall();
            b.Send(hostile.Mac, 0);
            BackendHarness.WaitUntil(() => hostile.Backend.Counters.RxFrames == 1, "the frame to the hostile guest");
            for (int i = 1; i <= 20; i++)
            {
                b.Send(c.Mac, i);
                c.ExpectFrom(b.Mac, i);
            }
            Assert.Null(datapath.Fault);
            // the device's own problem, counted on it (its notifier saw O_NONBLOCK cleared)
            BackendHarness.WaitUntil(() => hostile.Backend.Counters.CallProblems >= 1, "the hostile call counted");
        }
        finally
        {
            hostile.Unblock(); // a thread blocked in spite of all lets go, so the test can end
        }
    }
}
