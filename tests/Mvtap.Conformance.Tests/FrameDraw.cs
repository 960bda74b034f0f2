// Draws the crafted frames of a scenario: where each is sent from (the wire, an endpoint's own
// interface, the lower's own stack), to whom (each endpoint, the lower, outside hosts, an unknown
// MAC, broadcast, groups some endpoint joined and groups nobody joined, PAUSE), from whom (the
// sender itself, spoofed: another endpoint, a source-listed MAC, an outside host), sometimes behind
// an 802.1Q tag, of random length and payload. Ethertype 0x88B5 (or PAUSE's 0x8808) with the
// frame's number as tag right after it (FrameObserver.TagOf), so every copy can be told apart.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath.Tests.E2e;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

internal sealed class FrameDraw(Random rng, IReadOnlyList<MacAddress> groups)
{
    public FrameSpec Next(int number, IReadOnlyDictionary<string, EndpointState> state)
    {
        var names = state.Keys.Order(StringComparer.Ordinal).ToArray();
        var up = names.Where(n => state[n].Up).ToArray();
        int roll = rng.Next(100);
        // mostly from endpoints that are up; now and then from a down one (both refuse to send)
        string from = roll < 45 ? "wire"
            : roll < 85 ? (up.Length > 0 && rng.Next(10) != 0 ? Pick(up) : rng.Next(4) == 0 ? Pick(names) : "wire")
            : "lower";
        ushort etherType = FrameObserver.TestEtherType;
        var dst = Destination(state, names, ref etherType);
        var src = Source(from, state, names);
        return new FrameSpec(number, from, Build(number, dst, src, etherType));
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    private MacAddress Destination(IReadOnlyDictionary<string, EndpointState> state, string[] names, ref ushort etherType)
    {
        var joined = state.Values.SelectMany(s => s.Groups).Distinct().ToArray();
        int roll = rng.Next(100);
        switch (roll)
        {
            case < 30: return state[Pick(names)].Mac;
            case < 38: return Lower;
            case < 48: return rng.Next(2) == 0 ? Outside1 : Outside2;
            case < 53: return Unknown;
            case < 68: return MacAddress.Broadcast;
            case < 80 when joined.Length > 0: return Pick(joined);
            case < 95: return rng.Next(5) == 0 ? AllHosts : Pick(groups);
            default:
                etherType = FrameObserver.PauseEtherType;
                return rng.Next(3) switch { 0 => MacAddress.Broadcast, 1 => PauseGroup, _ => state[Pick(names)].Mac };
        }
    }

    private MacAddress Source(string from, IReadOnlyDictionary<string, EndpointState> state, string[] names)
    {
        var listed = state.Values.SelectMany(s => s.Sources).Distinct().ToArray();
        var someListed = listed.Length > 0 ? Pick(listed) : Pick(Listed);
        int roll = rng.Next(100);
        if (from == "wire")
        {
            return roll switch
            {
                < 55 => rng.Next(2) == 0 ? Outside1 : Outside2,
                < 75 => someListed,
                < 90 => state[Pick(names)].Mac,
                < 95 => Lower,
                _ => Pick(Listed),
            };
        }
        if (from == "lower")
            return roll < 80 ? Lower : roll < 90 ? someListed : state[Pick(names)].Mac;
        return roll switch
        {
            < 70 => state[from].Mac,
            < 80 => state[Pick(names)].Mac,
            < 90 => someListed,
            _ => Outside1,
        };
    }

    /// <summary>dst, src, [802.1Q tag], ethertype, the tag naming the frame, random payload; 60 to 1514 bytes.</summary>
    private byte[] Build(int number, MacAddress dst, MacAddress src, ushort etherType)
    {
        int roll = rng.Next(100);
        int length = roll < 50 ? 60 : roll < 90 ? rng.Next(61, 301) : rng.Next(301, 1515);
        ushort? tci = rng.Next(12) == 0 ? (ushort)(rng.Next(8) << 13 | rng.Next(1, 4095)) : null;
        var frame = E2eFrames.Build(dst, src, E2eFrames.TagBase | (uint)number, etherType, tci);
        int header = frame.Length - 48 + 6; // addresses, tag, ethertype and our tag
        var bytes = new byte[Math.Max(length, header)];
        frame.AsSpan(0, header).CopyTo(bytes);
        rng.NextBytes(bytes.AsSpan(header));
        return bytes;
    }
}
