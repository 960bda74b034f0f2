// `mvtap -s -s link show`: real drops (frames a container sends from a source MAC not its
// endpoint's, with spoofchk on) appear in the drops table under ip's error rows, under their
// reason's name, and in -j's drops_by_reason, which at -s -s lists every reason, zeros too.
using System.Text.Json;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;

namespace Mvtap.Daemon.Tests;

public sealed class DetailedDropCountersTests
{
    private const int Spoofed = 3;

    [Fact]
    public void SpoofedFramesAppearUnderTheirReasonInTheDoubleStatisticsTableAndJson()
    {
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();

        MacAddress extMac;
        using (var rt = Rtnetlink.InNamespace(lab.Ext)) extMac = rt.GetLink("ext0")!.Address!.Value;
        int g0;
        using (var rt = Rtnetlink.InNamespace(lab.Guest)) g0 = rt.GetLink("g0")!.Index;
        using (var socket = NetNamespace.Run(lab.Guest, () => new PacketSocket(g0, new PacketSocketOptions { Protocol = 0 })))
        {
            var frame = new byte[64];
            extMac.Write(frame.AsSpan(0, 6));
            MacAddress.Parse("02:5e:e0:00:00:01").Write(frame.AsSpan(6, 6));
            frame[12] = 0x88; frame[13] = 0xb5; // local experimental ethertype
            for (int i = 0; i < Spoofed; i++) Assert.True(socket.Send(frame), "the guest's socket took the frame");
        }
        var link = TestNet.WaitFor(() => LowerLab.Show(d), l => LowerLab.Drops(l, "spoofed_source") >= Spoofed);
        Assert.Equal((ulong)Spoofed, LowerLab.Drops(link, "spoofed_source"));

        // text: the table under ip's TX errors rows, the count right-aligned under its reason
        var text = d.Cli("-s", "-s", "link", "show", "g0");
        Assert.True(text.Status == 0, text.Err);
        var lines = text.Out.Split('\n');
        int txErrors = Array.FindIndex(lines, l => l.StartsWith("    TX errors:", StringComparison.Ordinal));
        Assert.StartsWith("    drops:       malformed", lines[txErrors + 2]);
        int header = Array.FindIndex(lines, txErrors, l => l.Contains(" spoofed_source", StringComparison.Ordinal));
        Assert.True(header > txErrors && header < Array.FindIndex(lines, l => l.StartsWith("    lower drops:", StringComparison.Ordinal)));
        Assert.Equal(Spoofed.ToString(System.Globalization.CultureInfo.InvariantCulture), Under(lines[header], lines[header + 1], "spoofed_source"));
        Assert.Equal("0", Under(lines[header], lines[header + 1], "endpoint_down"));
        Assert.DoesNotContain("    drops: spoofed_source", text.Out);

        // JSON: every reason at -s -s, the endpoint's and the lower's
        var json = d.Cli("-s", "-s", "-j", "link", "show", "g0");
        Assert.True(json.Status == 0, json.Err);
        var stats = JsonDocument.Parse(json.Out).RootElement[0].GetProperty("stats64");
        var drops = stats.GetProperty("drops_by_reason").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetUInt64());
        Assert.Equal(Enum.GetValues<DropReason>().Select(r => r.Name()), drops.Keys.Take(DropReasons.Count));
        Assert.Equal((ulong)Spoofed, drops["spoofed_source"]);
        Assert.Equal(DropReasons.Count, stats.GetProperty("lower_drops_by_reason").EnumerateObject().Count());
        // -s alone keeps the reasons that dropped something
        var single = JsonDocument.Parse(d.Cli("-s", "-j", "link", "show", "g0").Out).RootElement[0].GetProperty("stats64").GetProperty("drops_by_reason");
        Assert.All(single.EnumerateObject(), p => Assert.NotEqual(0UL, p.Value.GetUInt64()));
    }

    // the number right-aligned under name: the last word of the value row up to the name's end
    private static string Under(string header, string values, string name)
    {
        int end = header.IndexOf(" " + name, StringComparison.Ordinal) + 1 + name.Length;
        return values[..end].Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
    }
}
