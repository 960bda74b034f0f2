// state.json: atomic replacement, and a corrupt or truncated file refused and left alone.
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Tests;

public sealed class StateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void No_file_means_an_empty_state()
    {
        Assert.Empty(new StateStore(_dir).Load().Endpoints);
    }

    [Fact]
    public void Saved_state_reads_back_and_no_temporary_file_remains()
    {
        var store = new StateStore(_dir);
        store.Save(new DaemonState { NextIndex = 3, Endpoints = [new EndpointState { Index = 2, Name = "m", Lower = "eth1", Mac = "1a:00:00:00:00:01" }] });
        var back = store.Load();
        Assert.Equal(3, back.NextIndex);
        Assert.Equal("m", Assert.Single(back.Endpoints).Name);
        Assert.Equal(["state.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("{\"version\":1,\"next_index\":3,\"endpoints\":[{\"index\":2,\"na")]
    [InlineData("not json at all")]
    [InlineData("null")]
    [InlineData("{\"version\":99}")]
    [InlineData("{\"version\":1,\"surprise\":true}")]
    public void A_corrupt_or_truncated_file_is_refused_and_kept(string content)
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, content);
        var e = Assert.Throws<StateFileException>(() => store.Load());
        Assert.Contains(store.Path, e.Message);
        Assert.Equal(content, File.ReadAllText(store.Path));
    }
}
