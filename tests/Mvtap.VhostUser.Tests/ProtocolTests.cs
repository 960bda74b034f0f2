// Negotiation and the control messages that need no rings.
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public class ProtocolTests
{
    [Fact]
    public void GetFeatures_offers_the_net_set_with_protocol_features()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        ulong offered = f.GetU64(VhostUserRequest.GetFeatures);
        Assert.Equal(VirtioNetFeatures.Offered, offered);
        foreach (ulong bit in new[] { VirtioNetFeatures.Version1, VirtioNetFeatures.MrgRxbuf, VirtioNetFeatures.ProtocolFeatures,
                     VirtioNetFeatures.EventIdx, VirtioNetFeatures.Mq, VirtioNetFeatures.Csum, VirtioNetFeatures.GuestCsum,
                     VirtioNetFeatures.HostTso4, VirtioNetFeatures.HostTso6, VirtioNetFeatures.GuestTso4, VirtioNetFeatures.GuestTso6 })
            Assert.NotEqual(0UL, offered & bit);
        Assert.Equal(0UL, offered & (1UL << 33)); // never ACCESS_PLATFORM (spec 3.4)
    }

    [Fact]
    public void Protocol_features_are_offered_before_set_features_and_reply_ack_acks()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        ulong proto = f.GetU64(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal(VhostUserProtocolFeatures.Mq | VhostUserProtocolFeatures.ReplyAck | VhostUserProtocolFeatures.Status, proto);
        f.SetU64(VhostUserRequest.SetProtocolFeatures, proto);
        f.ReplyAck = true;
        Assert.Equal(0UL, f.Request(VhostUserRequest.SetOwner, []));
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetFeatures, Feature.Offloads | VirtioNetFeatures.EventIdx));
        Assert.Equal(Feature.Offloads | VirtioNetFeatures.EventIdx, h.Backend.AckedFeatures);
        Assert.Equal(proto, h.Backend.AckedProtocolFeatures);
    }

    [Fact]
    public void GetQueueNum_answers_queue_pairs()
    {
        using var h = new BackendHarness(maxQueuePairs: 4);
        var f = h.Connect();
        Assert.Equal(4UL, f.GetU64(VhostUserRequest.GetQueueNum));
    }

    [Fact]
    public void Status_is_kept()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        Assert.Equal(0UL, f.SetU64(VhostUserRequest.SetStatus, 0x0f));
        Assert.Equal(0x0fUL, f.GetU64(VhostUserRequest.GetStatus));
    }

    [Fact]
    public void SetMemTable_maps_every_region_from_the_passed_fds()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(Feature.Basic);
        using var m = new TestGuestMemory(split: 3);
        Assert.Equal(0UL, f.SetMemTable(m));
        Assert.Contains(h.Log, l => l.Contains("memory table with 3 region(s)"));
        Assert.Equal(0, h.Backend.Counters.ProtocolErrors);
    }

    [Fact]
    public void Without_protocol_features_rings_start_enabled_and_no_ack_is_sent()
    {
        using var h = new BackendHarness();
        var f = h.Connect();
        f.Negotiate(VirtioNetFeatures.Version1);
        Assert.False(f.ReplyAck);
        using var m = new TestGuestMemory();
        f.SetMemTable(m);
        using var rx = new TestVring(m, 0);
        using var tx = new TestVring(m, 1);
        f.StartVring(rx, enable: false);
        f.StartVring(tx, enable: false);
        Assert.True(h.Backend.IsQueuePairReady(0));
    }
}
