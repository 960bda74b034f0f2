// Network namespaces made for one test and removed on every exit path: TestNamespace is one
// namespace (loopback up); NamespaceSet creates namespaces by name and deletes all of them, in
// reverse order, on dispose (deleting a namespace destroys every interface inside it).
namespace Mvtap.TestSupport;

/// <summary>A network namespace made for one test class and removed on dispose.</summary>
public sealed class TestNamespace : IDisposable
{
    public string Name { get; }

    public TestNamespace(string prefix = "mvtl-")
    {
        Name = prefix + TestNet.Suffix();
        TestNet.Ip("netns", "add", Name);
        try { TestNet.Ip("-n", Name, "link", "set", "lo", "up"); }
        catch { Dispose(); throw; }
    }

    public string Ip(params string[] args) => TestNet.Ip(["-n", Name, .. args]);

    /// <summary>A veth pair inside the namespace, both ends up.</summary>
    public void AddVeth(string name, string peer)
    {
        Ip("link", "add", name, "type", "veth", "peer", "name", peer);
        Ip("link", "set", name, "up");
        Ip("link", "set", peer, "up");
    }

    public void Dispose()
    {
        try { TestNet.Ip("netns", "del", Name); } catch (InvalidOperationException) { }
    }
}

/// <summary>Namespaces of one test, by the names the test chose; all deleted on dispose.</summary>
public sealed class NamespaceSet : IDisposable
{
    private readonly List<string> _names = [];

    /// <summary>`ip netns add NAME` (and its loopback up if asked); the namespace is deleted on dispose from then on.</summary>
    public string Add(string name, bool loopbackUp = false)
    {
        Sh.Ip("netns", "add", name);
        lock (_names) _names.Add(name);
        if (loopbackUp) Sh.Ip("-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>A namespace the test made another way (`ip netns attach`): deleted on dispose from then on.</summary>
    public string Adopt(string name)
    {
        lock (_names) _names.Add(name);
        return name;
    }

    /// <summary>`ip netns del NAME` now (a container that went); not deleted again on dispose.</summary>
    public void Delete(string name)
    {
        Sh.Try("ip", "netns", "del", name);
        lock (_names) _names.Remove(name);
    }

    /// <summary>A namespace the test deleted itself: not deleted again on dispose.</summary>
    public void Forget(string name)
    {
        lock (_names) _names.Remove(name);
    }

    /// <summary>How many namespaces the set holds now.</summary>
    public int Count { get { lock (_names) return _names.Count; } }

    public void Dispose()
    {
        string[] names;
        lock (_names) { names = [.. _names]; _names.Clear(); }
        for (int i = names.Length - 1; i >= 0; i--) Sh.Try("ip", "netns", "del", names[i]);
    }
}
