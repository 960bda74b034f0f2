// The daemon's control plane on sim lowers, in process: requests carried out with the core's
// rules, refusals with the kernel's errno and a message naming the conflict, and the state
// saved after each change coming back whole in a new registry.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.State;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class RegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private LinkRegistry NewRegistry() => new(_ => null, new StateStore(_dir), NullLogger.Instance, _dir);

    private static ControlResponse Ok(LinkRegistry r, ControlRequest q)
    {
        var resp = r.Handle(q);
        Assert.True(resp.Ok, resp.Error?.Message);
        return resp;
    }

    [Fact]
    public void Add_show_set_and_delete_an_endpoint()
    {
        using var r = NewRegistry();
        var added = Ok(r, new LinkAddRequest { Lower = "sim0", Name = "macvtap0", Type = "macvtap" }).Links![0];
        Assert.Equal(1, added.Index);
        Assert.Equal("vepa", added.Mode); // spec A20: default mode
        Assert.False(added.AdminUp);
        Ok(r, new LinkSetRequest { Name = "macvtap0", Address = "1a:46:0b:ca:bc:7b", Up = true });
        var shown = Ok(r, new LinkShowRequest { Name = "macvtap0" }).Links![0];
        Assert.Equal("1a:46:0b:ca:bc:7b", shown.Mac);
        Assert.Equal("UP", shown.OperState);
        Ok(r, new LinkDelRequest { Name = "macvtap0" });
        Assert.Empty(Ok(r, new LinkShowRequest()).Links!);
    }

    [Fact]
    public void Names_default_like_the_kernels_and_indexes_are_not_reused()
    {
        using var r = NewRegistry();
        Assert.Equal("macvtap0", Ok(r, new LinkAddRequest { Lower = "sim0", Type = "macvtap" }).Links![0].Name);
        Assert.Equal("macvtap1", Ok(r, new LinkAddRequest { Lower = "sim0", Type = "macvtap" }).Links![0].Name);
        Ok(r, new LinkDelRequest { Name = "macvtap1" });
        var again = Ok(r, new LinkAddRequest { Lower = "sim0", Type = "macvlan" }).Links![0];
        Assert.Equal("macvlan0", again.Name);
        Assert.Equal(3, again.Index);
    }

    [Fact]
    public void Refusals_carry_the_kernels_errno_and_name_the_conflict()
    {
        using var r = NewRegistry();
        Ok(r, new LinkAddRequest { Lower = "sim0", Name = "macvtap1", Type = "macvtap", Address = "1a:46:0b:ca:bc:7b", Up = true });
        var dup = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "macvtap1", Type = "macvtap" });
        Assert.Equal((int)Errno.EEXIST, dup.Error!.Errno);
        var noLower = r.Handle(new LinkAddRequest { Lower = "eth-none", Name = "x", Type = "macvtap" });
        Assert.Equal((int)Errno.ENODEV, noLower.Error!.Errno);
        Assert.Contains("Cannot find device \"eth-none\"", noLower.Error.Message);
        var inUse = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "macvtap2", Type = "macvtap", Address = "1a:46:0b:ca:bc:7b", Up = true });
        Assert.Equal((int)Errno.EADDRINUSE, inUse.Error!.Errno);
        Assert.Equal("address 1a:46:0b:ca:bc:7b is in use by macvtap1", inUse.Error.Message);
        Assert.Single(Ok(r, new LinkShowRequest()).Links!); // the refused add+up left nothing behind
        var multicast = r.Handle(new LinkSetRequest { Name = "macvtap1", Address = "01:00:5e:00:00:01" });
        Assert.Equal((int)Errno.EADDRNOTAVAIL, multicast.Error!.Errno);
        var passthru = r.Handle(new LinkSetRequest { Name = "macvtap1", Mode = "passthru" });
        Assert.Equal((int)Errno.EINVAL, passthru.Error!.Errno);
    }

    [Fact]
    public void A_restart_brings_every_endpoint_back_with_name_index_mac_mode_and_flags()
    {
        List<LinkView> before;
        using (var r = NewRegistry())
        {
            Ok(r, new LinkAddRequest { Lower = "sim0", Name = "a", Type = "macvtap", Mode = "bridge", Up = true, BcQueueLen = 77 });
            Ok(r, new LinkAddRequest { Lower = "sim0", Name = "gone", Type = "macvtap" });
            Ok(r, new LinkDelRequest { Name = "gone" });
            Ok(r, new LinkAddRequest { Lower = "sim0", Name = "s", Type = "macvlan", Mode = "source", Flags = ["nodst"], MacaddrOperation = "set", Macaddrs = ["02:00:00:00:00:aa", "02:00:00:00:00:bb"], SpoofCheck = false });
            Ok(r, new LinkAddRequest { Lower = "sim1", Name = "t", Type = "macvtap", Mode = "passthru", Flags = ["nopromisc"], Owner = "1000", Group = "kvm", GuestMemory = "any" });
            before = Ok(r, new LinkShowRequest()).Links!;
        }
        using var restored = NewRegistry();
        restored.Restore(new StateStore(_dir).Load());
        var after = Ok(restored, new LinkShowRequest()).Links!;
        Assert.Equal(before.Select(Key), after.Select(Key));
        Assert.Equal(5, Ok(restored, new LinkAddRequest { Lower = "sim0", Type = "macvtap" }).Links![0].Index); // index 2 was used and deleted: never reused
    }

    private static string Key(LinkView v) =>
        $"{v.Index} {v.Name} {v.Type} {v.Lower} {v.Mac} {v.Mode} {string.Join("+", v.Flags)} {v.AdminUp} {v.BcQueueLen} {string.Join(",", v.Macaddrs)} {v.SpoofCheck} {v.Owner} {v.Group} {v.GuestMemory}";

    [Fact]
    public void Guestmem_is_sealed_by_default_settable_on_a_macvtap_only_and_saved()
    {
        using (var r = NewRegistry())
        {
            Assert.Equal("sealed", Ok(r, new LinkAddRequest { Lower = "sim0", Name = "v", Type = "macvtap" }).Links![0].GuestMemory);
            Assert.Equal("any", Ok(r, new LinkSetRequest { Name = "v", GuestMemory = "any" }).Links![0].GuestMemory);
            Assert.Null(Ok(r, new LinkAddRequest { Lower = "sim0", Name = "l", Type = "macvlan" }).Links![0].GuestMemory);

            var macvlan = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "l2", Type = "macvlan", GuestMemory = "any" });
            Assert.Equal((int)Errno.EINVAL, macvlan.Error!.Errno);
            Assert.Contains("guestmem applies to macvtap endpoints", macvlan.Error.Message);
            var unknown = r.Handle(new LinkAddRequest { Lower = "sim0", Name = "v2", Type = "macvtap", GuestMemory = "all" });
            Assert.Equal((int)Errno.EINVAL, unknown.Error!.Errno);
            Assert.Equal(["v", "l"], Ok(r, new LinkShowRequest()).Links!.Select(x => x.Name)); // the refused adds left nothing
            // a refused set changes nothing, not even what came with it
            Assert.Equal((int)Errno.EINVAL, r.Handle(new LinkSetRequest { Name = "l", Up = true, GuestMemory = "any" }).Error!.Errno);
            Assert.False(Ok(r, new LinkShowRequest { Name = "l" }).Links![0].AdminUp);
            Assert.Equal((int)Errno.EINVAL, r.Handle(new LinkSetRequest { Name = "v", Up = true, GuestMemory = "none" }).Error!.Errno);
            Assert.False(Ok(r, new LinkShowRequest { Name = "v" }).Links![0].AdminUp);
        }
        var saved = new StateStore(_dir).Load();
        Assert.Equal("any", saved.Endpoints.Single(e => e.Name == "v").GuestMemory);
        Assert.Null(saved.Endpoints.Single(e => e.Name == "l").GuestMemory);

        // a state file from before guestmem existed: its macvtaps come back sealed
        new StateStore(_dir).Save(new DaemonState { NextIndex = 2, Endpoints = [new EndpointState { Index = 1, Name = "old", Type = "macvtap", Lower = "sim0", Mac = "1a:00:00:00:00:01" }] });
        using var restored = NewRegistry();
        restored.Restore(new StateStore(_dir).Load());
        Assert.Equal("sealed", Ok(restored, new LinkShowRequest { Name = "old" }).Links![0].GuestMemory);
    }

    [Fact]
    public void An_endpoint_whose_lower_is_gone_at_restore_stays_in_the_state_file()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState { NextIndex = 8, Endpoints = [new EndpointState { Index = 7, Name = "m7", Type = "macvtap", Lower = "eth-missing", Mac = "1a:00:00:00:00:07" }] });
        using var r = NewRegistry();
        r.Restore(store.Load());
        Ok(r, new LinkAddRequest { Lower = "sim0", Name = "x", Type = "macvtap" });
        var saved = store.Load();
        Assert.Contains(saved.Endpoints, e => e.Name == "m7" && e.Index == 7);
        Assert.Contains(saved.Endpoints, e => e.Name == "x" && e.Index == 8);
    }

    [Fact]
    public void Deleting_an_endpoint_that_could_not_be_restored_is_saved()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState { NextIndex = 8, Endpoints = [new EndpointState { Index = 7, Name = "m7", Type = "macvtap", Lower = "eth-missing", Mac = "1a:00:00:00:00:07" }] });
        using (var r = NewRegistry())
        {
            r.Restore(store.Load());
            Ok(r, new LinkDelRequest { Name = "m7" });
            Assert.DoesNotContain(store.Load().Endpoints, e => e.Name == "m7");
        }
        // and a restart does not bring it back
        using var again = NewRegistry();
        again.Restore(store.Load());
        Assert.DoesNotContain(new StateStore(_dir).Load().Endpoints, e => e.Name == "m7");
    }

    [Fact]
    public void A_state_file_netns_that_is_a_path_is_not_restored_and_stays_in_the_file()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState { NextIndex = 2, Endpoints = [new EndpointState { Index = 1, Name = "s1", Type = "macvlan", Lower = "sim0", Mac = "1a:00:00:00:00:01", Netns = "../../proc/1/ns/net" }] });
        using var r = NewRegistry();
        r.Restore(store.Load());
        Assert.Empty(Ok(r, new LinkShowRequest()).Links!);
        Ok(r, new LinkAddRequest { Lower = "sim0", Name = "x", Type = "macvtap" });
        Assert.Contains(store.Load().Endpoints, e => e.Name == "s1" && e.Netns == "../../proc/1/ns/net");
    }
}
