// mvtapd follows its lower through what the system does to it, with real interfaces (a veth as the
// lower) and a container-style guest passing traffic: moved to another namespace (followed there)
// and back, moved where mvtapd cannot reach it, deleted (endpoints kept without carrier, or deleted
// with --lower-gone delete) and re-created, renamed, and missing when mvtapd starts. Each outcome
// is asserted on `mvtap -j -d -s link show`, on traffic (ping and counters) and on the state file
// after a restart.
using Mvtap.Cli.Demo;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Daemon.Tests;

public sealed class LowerLifecycleTests
{
    private static void Restart(MvtapdProcess d)
    {
        d.Signal(15);
        d.WaitForExit();
        d.StartAndWait();
    }

    private static void AssertUp(MvtapdProcess d, string state = "present")
    {
        var link = TestNet.WaitFor(() => LowerLab.Show(d), l => LowerLab.LowerState(l) == state && LowerLab.HasFlag(l, "LOWER_UP"));
        Assert.Equal(state, LowerLab.LowerState(link));
        Assert.True(LowerLab.HasFlag(link, "LOWER_UP"), link.ToString());
        Assert.Equal("UP", link.GetProperty("operstate").GetString());
    }

    private static void AssertDown(MvtapdProcess d, string state, string reason)
    {
        var link = TestNet.WaitFor(() => LowerLab.Show(d), l => LowerLab.LowerState(l) == state);
        Assert.Equal(state, LowerLab.LowerState(link));
        Assert.Contains(reason, LowerLab.LowerReason(link));
        Assert.True(LowerLab.HasFlag(link, "NO-CARRIER"), link.ToString());
        Assert.Equal("LOWERLAYERDOWN", link.GetProperty("operstate").GetString());
    }

    /// <summary>While the lower is away the guest's frames are dropped as no_carrier, and counted.</summary>
    private static void AssertNothingFlows(MvtapdProcess d, LowerLab lab)
    {
        ulong before = LowerLab.Drops(LowerLab.Show(d), "no_carrier");
        Assert.False(Shell.Ping(lab.Guest, LowerLab.ExtIp));
        Assert.True(LowerLab.Drops(LowerLab.Show(d), "no_carrier") > before, "the guest's frames are counted as no_carrier");
    }

    [Fact]
    public void A_lower_moved_to_another_namespace_is_followed_there_and_reopened_when_it_comes_back()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        string away = lab.AddNamespace(lab.Name("a"));
        using var d = lab.StartWithGuest();

        Shell.Ip("-n", lab.Host, "link", "set", "low0", "netns", away);
        Shell.Ip("-n", away, "link", "set", "low0", "up"); // a move brings an interface down
        AssertUp(d, "moved");
        var moved = LowerLab.Show(d);
        Assert.Equal(away, moved.GetProperty("mvtap").GetProperty("lower").GetProperty("netns").GetString());
        Assert.Contains($"moved to netns {away}", LowerLab.LowerReason(moved));
        ulong sent = LowerLab.TxPackets(moved);
        Assert.True(lab.GuestReachesExt(), "through the lower in its new namespace (the kernel's macvlans keep working too)");

        Shell.Ip("-n", away, "link", "set", "low0", "netns", lab.Host);
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "up");
        AssertUp(d);
        Assert.Null(LowerLab.LowerReason(LowerLab.Show(d)));
        Assert.True(lab.GuestReachesExt(), "back in mvtapd's namespace, without a restart");
        Assert.True(LowerLab.TxPackets(LowerLab.Show(d)) > sent);
        Assert.Contains("reopened in netns", d.Output);

        Restart(d);
        Assert.Equal("low0", lab.Saved()["g0"]);
        AssertUp(d);
        Assert.True(lab.GuestReachesExt(), "after a restart");
    }

    [Fact]
    public void A_lower_moved_where_mvtapd_cannot_reach_has_no_carrier_says_why_and_is_reopened_when_it_is_back()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        // A namespace no name and no process reaches: only this descriptor holds it.
        string hidden = lab.Name("u");
        Shell.Ip("netns", "add", hidden);
        using var hiddenNs = NetNamespace.Open(hidden);
        Shell.Ip("netns", "del", hidden);
        using var d = lab.StartWithGuest();

        using (var rtnl = Rtnetlink.InNamespace(lab.Host)) rtnl.MoveToNamespace("low0", hiddenNs);
        AssertDown(d, "unreachable", "was moved to a network namespace mvtapd cannot reach");
        AssertNothingFlows(d, lab);
        var refused = d.Cli("link", "add", "link", "low0", "name", "g1", "type", "macvtap");
        Assert.NotEqual(0, refused.Status);
        Assert.Contains("Cannot find device \"low0\"", refused.Err);

        using (var home = NetNamespace.Open(lab.Host))
        using (var rtnl = NetNamespace.Run(hiddenNs, () => new Rtnetlink()))
            rtnl.MoveToNamespace("low0", home);
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "up");
        AssertUp(d);
        Assert.True(lab.GuestReachesExt(), "back in mvtapd's namespace, without a restart");
        Restart(d);
        Assert.Equal(["g0"], lab.Saved().Keys);
        Assert.True(lab.GuestReachesExt(), "after a restart");
    }

    [Fact]
    public void A_deleted_lower_keeps_its_endpoints_without_carrier_and_an_interface_of_its_name_is_reopened()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        Assert.Equal(0, d.Cli("link", "add", "link", "low0", "name", "t0", "type", "macvtap", "up").Status);

        Shell.Ip("-n", lab.Host, "link", "del", "low0");
        AssertDown(d, "gone", "lower low0 is gone");
        Assert.Equal("gone", LowerLab.LowerState(LowerLab.Show(d, "t0")));
        AssertNothingFlows(d, lab);
        var refused = d.Cli("link", "add", "link", "low0", "name", "g1", "type", "macvtap");
        Assert.NotEqual(0, refused.Status);
        Assert.Contains("Cannot find device \"low0\"", refused.Err);
        Assert.Equal(["g0", "t0"], lab.Saved().Keys.Order());

        lab.CreateLower();
        AssertUp(d);
        Assert.True(lab.GuestReachesExt(), "through the re-created lower, without a restart");
        // a veth has no unicast filter: the endpoints' MACs make it promiscuous (spec 4.2), the new one too
        Assert.True(TestNet.WaitFor(() => lab.LowerPromiscuity(), n => n >= 1) >= 1, "the re-created lower is promiscuous again");
        Assert.Contains("lower low0 is gone", d.Output);
        Assert.Contains("an interface named low0", d.Output);
        Assert.Equal(0, d.Cli("link", "add", "link", "low0", "name", "g1", "type", "macvtap").Status);

        Restart(d);
        Assert.Equal(["g0", "g1", "t0"], lab.Saved().Keys.Order());
        AssertUp(d);
        Assert.True(lab.GuestReachesExt(), "after a restart");
    }

    [Fact]
    public void With_lower_gone_delete_a_deleted_lowers_endpoints_are_deleted_as_the_kernel_does()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest("--lower-gone", "delete");
        Assert.Equal(0, d.Cli("link", "add", "link", "low0", "name", "t0", "type", "macvtap").Status);

        Shell.Ip("-n", lab.Host, "link", "del", "low0");
        Assert.Equal("[]\n", TestNet.WaitFor(() => d.Cli("-j", "link", "show").Out, o => o == "[]\n"));
        Assert.Empty(TestNet.WaitFor(lab.Saved, s => s.Count == 0));
        Assert.NotEqual(0, Shell.Run("ip", "-n", lab.Guest, "link", "show", "g0").Status); // its NIC went with it
        Assert.Contains("was deleted (--lower-gone delete)", d.Output);

        lab.CreateLower();
        Restart(d);
        Assert.Equal("[]\n", d.Cli("-j", "link", "show").Out);
    }

    [Fact]
    public void Endpoints_whose_lower_is_missing_when_mvtapd_starts_are_restored_when_it_appears()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();
        d.Signal(15);
        d.WaitForExit();

        Shell.Ip("-n", lab.Host, "link", "del", "low0");
        d.StartAndWait();
        Assert.Equal("[]\n", d.Cli("-j", "link", "show").Out);
        Assert.Equal(["g0"], lab.Saved().Keys); // still saved
        Assert.Contains("is restored when low0 appears", d.Output);

        lab.CreateLower();
        Assert.Equal(1, TestNet.WaitFor(() => System.Text.Json.JsonDocument.Parse(d.Cli("-j", "link", "show").Out).RootElement.GetArrayLength(), n => n == 1));
        AssertUp(d);
        Assert.True(lab.GuestReachesExt(), "restored without a restart");
        Assert.Contains("restored g0 (index 1): its lower low0 appeared", d.Output);
    }

    [Fact]
    public void A_renamed_lower_keeps_its_endpoints_under_its_new_name()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        using var d = lab.StartWithGuest();

        Shell.Ip("-n", lab.Host, "link", "set", "low0", "down");
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "name", "up0");
        Shell.Ip("-n", lab.Host, "link", "set", "up0", "up");
        Assert.Equal("up0", TestNet.WaitFor(() => LowerLab.Show(d).GetProperty("link").GetString(), l => l == "up0"));
        AssertUp(d);
        Assert.True(lab.GuestReachesExt());
        Assert.Equal("up0", TestNet.WaitFor(() => lab.Saved()["g0"], l => l == "up0"));

        Restart(d);
        Assert.Equal("up0", LowerLab.Show(d).GetProperty("link").GetString());
        Assert.True(lab.GuestReachesExt(), "after a restart");
    }

    [Fact]
    public void A_lower_in_a_namespace_that_nothing_holds_any_more_is_let_go_and_reopened_when_it_is_back()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var lab = new LowerLab();
        string away = lab.AddNamespace(lab.Name("a"));
        using var d = lab.StartWithGuest();
        Shell.Ip("-n", lab.Host, "link", "set", "low0", "netns", away);
        AssertDown(d, "moved", $"moved to netns {away}"); // moved, and down: a move brings it down

        // The namespace loses its name and has no process: mvtapd lets go, so the kernel can dismantle
        // it (with the veth in it; a physical NIC would come home).
        Shell.Ip("netns", "del", away);
        AssertDown(d, "unreachable", "which no process uses and no name holds any more");
        // the kernel dismantles it (and the veth pair in it) in its own time
        Assert.NotEqual(0, TestNet.WaitFor(() => Shell.Run("ip", "-n", lab.Ext, "link", "show", "ext0").Status, s => s != 0));
        lab.CreateLower();
        AssertUp(d);
        Assert.True(lab.GuestReachesExt());
    }
}
