// state.json with fields missing or JSON null (found by the state-file fuzz target): a missing
// field keeps its default, a null where the state has none is refused at load as a corrupt file,
// the way mvtapd refuses any other; before, both crashed the daemon's restore.
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Tests;

public sealed class StateFileMissingAndNullTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-state-null-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("{\"version\":1,\"endpoints\":null}")]
    [InlineData("{\"version\":1,\"endpoints\":[null]}")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\",\"flags\":null}]}")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\",\"macaddrs\":null}]}")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":null,\"lower\":null,\"type\":null,\"mode\":null,\"mac\":null}]}")]
    public void A_null_where_the_state_has_none_is_refused_as_a_corrupt_file(string content)
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, content);
        var e = Assert.Throws<StateFileException>(() => store.Load());
        Assert.Contains("corrupt", e.Message);
        Assert.Equal(content, File.ReadAllText(store.Path)); // left as it is
    }

    [Fact]
    public void A_field_missing_from_the_file_keeps_its_default()
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, "{\"version\":1}");
        Assert.Empty(store.Load().Endpoints);
        File.WriteAllText(store.Path, "{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\"}]}");
        var e = Assert.Single(store.Load().Endpoints);
        Assert.Equal((true, 500u, 1000u, 1, "vepa"), (e.SpoofCheck, e.TxQueueLen, e.BcQueueLen, e.BcCutoff, e.Mode));
        Assert.Empty(e.Flags);
        Assert.Empty(e.Macaddrs);
    }

    [Fact]
    public void Optional_fields_may_still_be_null()
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, "{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\",\"owner\":null,\"group\":null,\"netns\":null}]}");
        Assert.Equal("a", Assert.Single(store.Load().Endpoints).Name);
    }
}
