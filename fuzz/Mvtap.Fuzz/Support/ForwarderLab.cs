// A port for the forwarder target, one per setup byte, made once and reused (building a port
// costs far more than forwarding a frame): Begin moves its clock past the reassembly timeout, so
// every input starts with no datagram held, and the broadcast queue is empty between frames. One lower and endpoints of every mode but passthru (which excludes the
// others) — vepa, two bridges (one joined to 01:00:5e:00:00:fb, one allmulti with spoofchk off),
// private, source (listing a neighbour, NODST) and a vepa that stays down — and a small
// bcqueuelen so the queue can fill. The input's first byte sets the lower's state and filters.
using Mvtap.Core.Forwarding;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Fuzz.Support;

public sealed class ForwarderLab
{
    public static readonly MacAddress LowerMac = new(0x020000000001UL);
    /// <summary>The neighbour the source endpoint lists.</summary>
    public static readonly MacAddress Neighbour = new(0x02BB00000001UL);
    public static readonly MacAddress Group = new(0x01005E0000FBUL);

    private ForwarderLab(byte setup)
    {
        Port = new Port(new LowerDevice("fuzz0", LowerMac, mtu: 1500), new Random(1), _clock);
        Endpoints =
        [
            Add("vepa0", EndpointMode.Vepa, up: true),
            Add("bridge0", EndpointMode.Bridge, up: true),
            Add("bridge1", EndpointMode.Bridge, up: true, spoofCheck: false),
            Add("private0", EndpointMode.Private, up: true),
            Add("source0", EndpointMode.Source, up: true, flags: EndpointFlags.NoDst),
            Add("vepa1", EndpointMode.Vepa, up: false),
        ];
        Port.JoinGroup(Endpoints[1], Group);
        Port.Change(Endpoints[2], new EndpointChange { AllMulti = true, BcQueueLen = (uint)(setup >> 4), BcCutoff = (setup & 8) != 0 ? -1 : 1 });
        if ((setup & 1) != 0) Port.OnLowerStateChanged(up: true, carrier: false);
        if ((setup & 2) != 0) Port.OnLowerPromiscuityChanged(1, 0);
        if ((setup & 4) != 0) Port.OnLowerMtuChanged(9000);
    }

    private static readonly Dictionary<byte, ForwarderLab> BySetup = [];
    private readonly ManualClock _clock = new();

    /// <summary>The lab for <paramref name="setup"/>, with nothing held from earlier inputs.</summary>
    public static ForwarderLab Begin(byte setup)
    {
        if (!BySetup.TryGetValue(setup, out var lab)) BySetup[setup] = lab = new ForwarderLab(setup);
        lab._clock.Advance(Ipv4Defragmenter.Timeout + TimeSpan.FromSeconds(1));
        return lab;
    }

    public Port Port { get; }
    public Endpoint[] Endpoints { get; }

    private Endpoint Add(string name, EndpointMode mode, bool up, bool spoofCheck = true, EndpointFlags flags = EndpointFlags.None)
    {
        int i = Port.Endpoints.Count;
        bool source = mode == EndpointMode.Source;
        return Port.Create(new EndpointSettings
        {
            Name = name,
            Mac = new MacAddress(0x020000000010UL + (ulong)i),
            Mode = mode,
            Flags = flags,
            SpoofCheck = spoofCheck,
            BcQueueLen = 4,
            MacaddrOp = source ? MacaddrOperation.Set : null,
            MacaddrData = source ? [Neighbour] : null,
        }) is var ep && up ? Up(ep) : ep;
    }

    private Endpoint Up(Endpoint ep)
    {
        Port.SetUp(ep, true);
        return ep;
    }
}
