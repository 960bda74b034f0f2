// A network namespace lower devices may be in: the switch's own ("home"), or one a lower was
// moved into and followed to. Held open by a descriptor (so it is the same namespace for as long
// as mvtap follows a lower there), with what the lower monitor needs inside it: a subscription to
// its link events and a client to read its links and netns ids. The monitor thread alone uses the
// subscription and the client.
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

internal sealed class LowerNamespace : IDisposable
{
    private LowerNamespace(FileDescriptor handle, string label, bool isHome)
    {
        Handle = handle;
        Label = label;
        IsHome = isHome;
        Id = NetNamespace.IdOf(handle);
    }

    /// <summary>The switch's namespace: the named one, or the calling thread's.</summary>
    public static LowerNamespace Home(string? name) =>
        new(name is null ? NetNamespace.OpenCurrent() : NetNamespace.Open(name), name ?? "mvtapd's own", isHome: true);

    /// <summary>Opens the namespace file at <paramref name="path"/> (/run/netns/NAME, /proc/PID/ns/net);
    /// null when it went away meanwhile.</summary>
    public static LowerNamespace? TryOpen(string path, string label)
    {
        FileDescriptor fd;
        try { fd = FileIo.Open(path, FileIo.O_RDONLY); }
        catch (SystemCallException) { return null; }
        try { return new LowerNamespace(fd, label, isHome: false); }
        catch (Exception) { fd.Dispose(); return null; }
    }

    public FileDescriptor Handle { get; }
    /// <summary>How the namespace is named to a user: its /run/netns name, or "pid N" of a process in it.</summary>
    public string Label { get; }
    /// <summary>"net:[inode]": the same for every path to the same namespace.</summary>
    public string Id { get; }
    public bool IsHome { get; }

    public RtnetlinkSubscription? Events { get; private set; }
    public Rtnetlink? Client { get; private set; }

    public T Run<T>(Func<T> action) => NetNamespace.Run(Handle, action);

    /// <summary>Opens the link subscription and the client inside the namespace (once).</summary>
    public void Watch()
    {
        Events ??= Run(() => new RtnetlinkSubscription([RtnetlinkSubscription.RTNLGRP_LINK]));
        Client ??= Run(() => new Rtnetlink());
    }

    public override string ToString() => IsHome ? $"mvtapd's namespace ({Label})" : $"netns {Label}";

    public void Dispose()
    {
        Events?.Dispose();
        Client?.Dispose();
        Events = null;
        Client = null;
        Handle.Dispose();
    }
}
