// state.json with JSON nulls where the state has no null (found by the state-file fuzz target):
// refused at load as a corrupt file, the way mvtapd refuses any other, instead of crashing
// the daemon's restore with a NullReferenceException.
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Tests;

public sealed class StateFileNullTests : IDisposable
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
    public void Optional_fields_may_still_be_null()
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, "{\"version\":1,\"endpoints\":[{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\",\"owner\":null,\"group\":null,\"netns\":null}]}");
        Assert.Equal("a", Assert.Single(store.Load().Endpoints).Name);
    }
}
