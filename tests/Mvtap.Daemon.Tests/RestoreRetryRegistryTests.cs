// Saved endpoints whose lower does not exist when mvtapd starts, in the control plane on a lower
// that "appears" in process: they stay in the state file, are restored with their index when the
// lower appears, and one deleted by name meanwhile is gone for good: not in the state file, and
// not brought back when its lower appears.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Daemon.Links;
using Mvtap.Daemon.Lowers;
using Mvtap.Daemon.State;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class RestoreRetryRegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-retry-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static EndpointState Saved(int index, string name) =>
        new() { Index = index, Name = name, Type = "macvtap", Lower = "late0", Mac = $"1a:00:00:00:00:0{index}", Up = true };

    [Fact]
    public void Endpoints_waiting_for_their_lower_are_restored_when_it_appears_and_one_deleted_meanwhile_stays_deleted()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState { NextIndex = 5, Endpoints = [Saved(3, "late3"), Saved(4, "late4")] });
        bool appeared = false;
        using var r = new LinkRegistry(name => appeared && name == "late0" ? new SimLowerHost(name) : null, store, NullLogger.Instance, _dir);
        r.Restore(store.Load());
        Assert.Equal(["late0"], r.AwaitedLowers);
        Assert.Empty(r.Handle(new LinkShowRequest()).Links!);
        Assert.Equal(["late3", "late4"], store.Load().Endpoints.Select(e => e.Name));

        Assert.True(r.Handle(new LinkDelRequest { Name = "late3" }).Ok);
        Assert.Equal(["late4"], store.Load().Endpoints.Select(e => e.Name));

        appeared = true;
        r.RetryRestore("late0");
        var links = r.Handle(new LinkShowRequest()).Links!;
        Assert.Equal(["late4"], links.Select(l => l.Name));
        Assert.Equal(4, links[0].Index);
        Assert.Empty(r.AwaitedLowers);
        Assert.Equal(["late4"], store.Load().Endpoints.Select(e => e.Name));
        Assert.Equal((int)Errno.ENODEV, r.Handle(new LinkDelRequest { Name = "late3" }).Error!.Errno);
    }

    [Fact]
    public void A_new_endpoint_never_takes_the_index_of_one_still_waiting_for_its_lower()
    {
        var store = new StateStore(_dir);
        // a next_index at or below a saved index (an edited file): the waiting endpoint keeps 7
        store.Save(new DaemonState { NextIndex = 2, Endpoints = [Saved(7, "late7")] });
        bool appeared = false;
        using var r = new LinkRegistry(name => name == "sim0" || (appeared && name == "late0") ? new SimLowerHost(name) : null, store, NullLogger.Instance, _dir);
        r.Restore(store.Load());
        for (int i = 0; i < 7; i++)
            Assert.True(r.Handle(new LinkAddRequest { Lower = "sim0", Name = $"new{i}", Type = "macvtap" }).Ok);
        appeared = true;
        r.RetryRestore("late0");
        var indexes = r.Handle(new LinkShowRequest()).Links!.Select(l => l.Index).ToList();
        Assert.Equal(8, indexes.Count);
        Assert.Equal(indexes.Count, indexes.Distinct().Count());
        Assert.Equal(8, store.Load().Endpoints.Count); // and the file loads again (no repeated index)
    }
}
