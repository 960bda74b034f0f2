// One network namespace that macvlan endpoints' NICs (the inner veth ends) are in, as mvtap follows
// it: a descriptor of the namespace (to enter it: changes pushed to a NIC, a NIC moved out), its
// link-layer multicast list (/proc/net/dev_mcast opened inside, re-read by the monitor's thread, or
// read once by the thread that brings a NIC up: MacvlanAttachment.SyncInner), its
// identity and the netnsid the switch's namespace gives it (what notifications and the outer veth
// ends name it by). Both descriptors keep the namespace alive, so InnerNamespaces closes them once
// nobody else uses it (its container is gone): the kernel then destroys it with the NICs in it.
// Also InnerPlace: where one NIC is (namespace and ifindex).
using Mvtap.Core.Frames;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

internal sealed class InnerNamespace
{
    private FileDescriptor? _handle;
    private LinkMulticastList? _multicast;

    private InnerNamespace(FileDescriptor handle, LinkMulticastList multicast, string id, int? nsId, string? name, bool isHome)
    {
        _handle = handle;
        _multicast = multicast;
        Id = id;
        NsId = nsId;
        Name = name;
        IsHome = isHome;
    }

    /// <summary>Takes <paramref name="handle"/> (a descriptor of the namespace) and opens its multicast list inside it.</summary>
    public static InnerNamespace Open(FileDescriptor handle, string id, int? nsId, string? name, bool isHome)
    {
        var multicast = NetNamespace.Run(handle, LinkMulticastList.OpenCurrent);
        return new InnerNamespace(handle, multicast, id, nsId, name, isHome);
    }

    /// <summary>"net:[inode]".</summary>
    public string Id { get; }
    /// <summary>Its netnsid in the switch's namespace; null for the switch's namespace itself.</summary>
    public int? NsId { get; }
    /// <summary>Its name under /run/netns, if it has one.</summary>
    public string? Name { get; }
    public bool IsHome { get; }
    /// <summary>The places (NICs) located here; guarded by InnerNamespaces' lock.</summary>
    internal int References { get; set; }
    /// <summary>When it was registered (InnerNamespaces' counter), to tell it from later scans.</summary>
    internal long Registration { get; set; }
    /// <summary>Closed because nobody but mvtap used it any more.</summary>
    public bool Abandoned { get; private set; }

    public bool IsOpen => Volatile.Read(ref _handle) is not null;

    public override string ToString() => IsHome ? "the switch's namespace" : $"namespace {Name ?? Id}";

    /// <summary>Runs <paramref name="action"/> on this thread inside the namespace; ObjectDisposedException when closed.</summary>
    public T Run<T>(Func<T> action) => WithHandle(h => NetNamespace.Run(h, action));

    /// <summary>Lends the namespace's descriptor (IFLA_NET_NS_FD); it stays open until <paramref name="use"/> returns.</summary>
    public T WithHandle<T>(Func<FileDescriptor, T> use)
    {
        var h = Volatile.Read(ref _handle) ?? throw new ObjectDisposedException(ToString());
        bool added = false;
        h.DangerousAddRef(ref added); // throws ObjectDisposedException when closed meanwhile
        try
        {
            return use(h);
        }
        finally
        {
            if (added) h.DangerousRelease();
        }
    }

    /// <summary>Re-reads the multicast list (the monitor's thread only); true when it changed.</summary>
    public bool RefreshMulticast()
    {
        if (_multicast is not { } m) return false;
        long stamp = InnerMulticast.ReadStamp();
        bool changed = m.Refresh();
        MulticastStamp = stamp;
        return changed;
    }

    /// <summary>Taken before the list GroupsOf gives was read (InnerMulticast.ReadStamp).</summary>
    public long MulticastStamp { get; private set; }

    /// <summary>The link-layer groups of interface <paramref name="ifIndex"/> read now, on any thread, from a list
    /// opened for this read only, and the stamp taken before it was read.</summary>
    public (List<MacAddress> Groups, long Stamp) ReadGroupsNow(int ifIndex) => Run(() =>
    {
        using var list = LinkMulticastList.OpenCurrent();
        long stamp = InnerMulticast.ReadStamp();
        return (list.Read(ifIndex), stamp);
    });

    /// <summary>The link-layer groups of interface <paramref name="ifIndex"/> as last read; null when closed.</summary>
    public IReadOnlyList<MacAddress>? GroupsOf(int ifIndex) => _multicast?.GroupsOf(ifIndex);

    /// <summary>Closes both descriptors (the monitor's thread only, as it alone reads the list).</summary>
    public void Close(bool abandoned)
    {
        Abandoned |= abandoned;
        Interlocked.Exchange(ref _handle, null)?.Dispose();
        _multicast?.Dispose();
        _multicast = null;
    }
}

/// <summary>Where a NIC is: its namespace (null when mvtap cannot reach it), that namespace's netnsid in
/// the switch's namespace (null: the switch's own) and the NIC's ifindex there.</summary>
internal sealed record InnerPlace(InnerNamespace? Namespace, int? NsId, int IfIndex)
{
    public bool SameAs(InnerPlace? other) => other is not null && other.NsId == NsId && other.IfIndex == IfIndex && other.Namespace == Namespace;

    public override string ToString() => Namespace?.ToString() ?? $"the namespace with netnsid {NsId}";
}
