// state.json whose endpoint indexes cannot be what mvtapd wrote: two endpoints with one index,
// an index outside 1..int.MaxValue-1 (0 and negatives are no ifindex; int.MaxValue would wrap
// the next one), a next_index below 1. Refused at load as a corrupt file, the way mvtapd
// refuses any other (it will not start over it and leaves the file as it is); before, restore
// brought back two endpoints under one index.
using Mvtap.Daemon.State;

namespace Mvtap.Daemon.Tests;

public sealed class StateFileIndexTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvtapd-state-index-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string A = "{\"index\":1,\"name\":\"a\",\"lower\":\"sim0\"}";

    [Theory]
    [InlineData("{\"version\":1,\"next_index\":3,\"endpoints\":[" + A + ",{\"index\":1,\"name\":\"b\",\"lower\":\"sim0\"}]}", "index 1 is given to more than one endpoint")]
    [InlineData("{\"version\":1,\"next_index\":3,\"endpoints\":[{\"index\":0,\"name\":\"a\",\"lower\":\"sim0\"}]}", "index 0, outside 1..2147483646")]
    [InlineData("{\"version\":1,\"next_index\":3,\"endpoints\":[{\"index\":-5,\"name\":\"a\",\"lower\":\"sim0\"}]}", "index -5, outside")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"index\":2147483647,\"name\":\"a\",\"lower\":\"sim0\"}]}", "index 2147483647, outside")]
    [InlineData("{\"version\":1,\"endpoints\":[{\"name\":\"a\",\"lower\":\"sim0\"}]}", "index 0, outside")]
    [InlineData("{\"version\":1,\"next_index\":0,\"endpoints\":[" + A + "]}", "next_index 0 is not 1 or more")]
    public void Repeated_or_out_of_range_indexes_are_refused_as_a_corrupt_file(string content, string why)
    {
        var store = new StateStore(_dir);
        File.WriteAllText(store.Path, content);
        var e = Assert.Throws<StateFileException>(() => store.Load());
        Assert.Contains("corrupt", e.Message);
        Assert.Contains(why, e.Message);
        Assert.Equal(content, File.ReadAllText(store.Path)); // left as it is
    }

    [Fact]
    public void Distinct_indexes_in_range_load_even_past_next_index()
    {
        var store = new StateStore(_dir);
        // a next_index at or below an index is mended at restore (the registry moves it past them)
        File.WriteAllText(store.Path, "{\"version\":1,\"next_index\":1,\"endpoints\":[" + A + ",{\"index\":2147483646,\"name\":\"b\",\"lower\":\"sim0\"}]}");
        Assert.Equal([1, 2147483646], store.Load().Endpoints.Select(e => e.Index));
    }
}
