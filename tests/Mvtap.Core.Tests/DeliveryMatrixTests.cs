// The delivery matrix: for every ordered pair of modes (sender, receiver), every frame kind
// and hairpin off and on, what the simulated network delivers equals what spec sections 2
// (transmit), 3.3 (unicast receive) and 3.4 (multicast receive) say. The expected side is
// written from the spec's tables, independently of the forwarder's code.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;
using static Mvtap.Core.Tests.Frames;

namespace Mvtap.Core.Tests;

public class DeliveryMatrixTests
{
    public enum Kind { UnicastToReceiver, UnicastToExternal, UnicastToLower, Broadcast, JoinedGroup, UnjoinedGroup, Pause }

    private static readonly EndpointMode[] Modes = [EndpointMode.Private, EndpointMode.Vepa, EndpointMode.Bridge, EndpointMode.Source];

    public static TheoryData<EndpointMode, EndpointMode, bool> Pairs()
    {
        var data = new TheoryData<EndpointMode, EndpointMode, bool>();
        foreach (var s in Modes) foreach (var r in Modes) foreach (var h in new[] { false, true }) data.Add(s, r, h);
        return data;
    }

    private sealed record Expect(int Receiver, int Sender, int External, int LowerStack, int Wire, string Rule);

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Deliveries_equal_spec_sections_2_3_3_and_3_4(EndpointMode senderMode, EndpointMode receiverMode, bool hairpin)
    {
        var failures = new List<string>();
        foreach (var kind in Enum.GetValues<Kind>())
        {
            var net = new SimNetwork(hairpin);
            var ext = net.AddExternalHost("ext", Ext);
            var s = net.AddEndpoint(new EndpointSettings { Name = "S", Mode = senderMode, Mac = Mac("1a:00:00:00:00:0a"), SpoofCheck = false });
            var r = net.AddEndpoint(new EndpointSettings { Name = "R", Mode = receiverMode, Mac = Mac("1a:00:00:00:00:0b"), SpoofCheck = false });
            net.Port.JoinGroup(r.Endpoint!, Group);
            var lowerMac = net.Port.Lower.Mac;
            var (dst, type) = kind switch
            {
                Kind.UnicastToReceiver => (r.Mac, TestEtherType),
                Kind.UnicastToExternal => (Ext, TestEtherType),
                Kind.UnicastToLower => (lowerMac, TestEtherType),
                Kind.Broadcast => (MacAddress.Broadcast, TestEtherType),
                Kind.JoinedGroup => (Group, TestEtherType),
                Kind.UnjoinedGroup => (OtherGroup, TestEtherType),
                _ => (MacAddress.Broadcast, EthernetFrame.EtherTypePause),
            };
            net.ClearInboxes();
            s.Send(Make(dst, s.Mac, type));
            var e = Expected(senderMode, receiverMode, hairpin, kind);
            var got = new Expect(r.Inbox.Count, s.Inbox.Count, ext.Inbox.Count, net.LowerStack.Inbox.Count, net.Wire.Count, "");
            if (got with { Rule = e.Rule } != e)
                failures.Add($"{kind}: expected {e} but got R={got.Receiver} S={got.Sender} ext={got.External} lower={got.LowerStack} wire={got.Wire}");
        }
        Assert.True(failures.Count == 0, $"{senderMode}->{receiverMode} hairpin={hairpin}:\n" + string.Join("\n", failures));
    }

    /// <summary>The spec's tables, composed: transmit (2), the switch, then receive (3.3, 3.4).</summary>
    private static Expect Expected(EndpointMode s, EndpointMode r, bool hairpin, Kind kind)
    {
        bool group = kind is Kind.Broadcast or Kind.JoinedGroup or Kind.UnjoinedGroup or Kind.Pause;
        bool pause = kind == Kind.Pause;
        bool receiverAccepts = kind is Kind.Broadcast or Kind.JoinedGroup or Kind.Pause; // spec 1.5 filter

        // spec 2: only bridge short-circuits, and only to bridge endpoints
        if (s == EndpointMode.Bridge && kind == Kind.UnicastToReceiver && r == EndpointMode.Bridge)
            return new(1, 0, 0, 0, 0, "spec 2: bridge to bridge unicast is delivered inside the host, never to the wire");
        int receiver = 0, sender = 0, lower = 0;
        string rule = "spec 2: everything else goes to the wire";
        if (s == EndpointMode.Bridge && group && r == EndpointMode.Bridge && receiverAccepts && !pause)
        {
            receiver++;
            rule = "spec 2: bridge multicast goes to the other bridge endpoints and to the wire";
        }
        // the switch: the external host hears group frames, its own unicast, and floods of
        // unknown unicast (the receiver's and the lower's MAC are not yet learned)
        int external = kind == Kind.UnicastToExternal || group || kind is Kind.UnicastToReceiver or Kind.UnicastToLower ? 1 : 0;
        bool reflected = hairpin && kind != Kind.UnicastToExternal;
        if (!reflected) return new(receiver, sender, external, lower, 1, rule);

        switch (kind)
        {
            case Kind.UnicastToReceiver:
                // spec 3.3: no source check on unicast; source endpoints never receive by dst
                if (r == EndpointMode.Source) { lower++; rule = "spec 3.3: unicast to a source endpoint's MAC is passed to the lower"; }
                else { receiver++; rule = "spec 3.3: reflected unicast reaches its destination whatever the sender's mode"; }
                break;
            case Kind.UnicastToLower:
                lower++;
                rule = "spec 3.3: unicast to the lower's MAC is passed to its stack";
                break;
            default:
                if (s is EndpointMode.Private or EndpointMode.Source)
                {
                    sender++;
                    rule = "spec 3.4: reflected multicast from a private or source endpoint returns only to it";
                }
                else
                {
                    lower++;
                    bool inMask = s == EndpointMode.Vepa ? r is EndpointMode.Vepa or EndpointMode.Bridge : r == EndpointMode.Vepa;
                    if (inMask && receiverAccepts && !pause) receiver++;
                    rule = s == EndpointMode.Vepa
                        ? "spec 3.4: reflected multicast from vepa reaches vepa and bridge endpoints but the sender, and the lower"
                        : "spec 3.4: reflected multicast from bridge reaches vepa endpoints only, and the lower";
                    if (pause) rule = "spec 3.4: PAUSE is never flooded to endpoints but passed to the lower";
                }
                break;
        }
        return new(receiver, sender, external, lower, 1, rule);
    }
}
