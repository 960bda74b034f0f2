// The persistent TAP that carries a `tap` macvtap endpoint (KubeVirt's tap binding, the CNI
// plugin's endpoint "tap"), as a device in the namespace it lives in: made there as QEMU expects
// (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, TUNSETPERSIST, TUNSETOWNER/TUNSETGROUP) and then let go of, so
// the only queue is the one QEMU opens by name (a second one would split the guest's frames
// between readers); adopted again after mvtapd restarts; made to carry the endpoint's MAC, MTU and
// admin state; read for `link show -d`; deleted with the endpoint. The namespace is held by a
// descriptor, so the TAP can still be found and deleted after its /run/netns name was removed.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Datapath;

public sealed class PersistentTap : IDisposable
{
    private readonly FileDescriptor? _netns; // null: the caller's (the switch's) namespace

    private PersistentTap(FileDescriptor? netns, string? netnsName, string name, int ifIndex)
    {
        _netns = netns;
        NetnsName = netnsName;
        Name = name;
        IfIndex = ifIndex;
    }

    /// <summary>The namespace the TAP was made in, as named under /run/netns (null: the switch's).</summary>
    public string? NetnsName { get; }
    /// <summary>The name QEMU opens it by.</summary>
    public string Name { get; }
    /// <summary>Its index in its namespace: what identifies it whatever it is called there.</summary>
    public int IfIndex { get; private set; }

    /// <summary>Makes the TAP <paramref name="name"/> in <paramref name="netns"/> (null: the caller's), owned by
    /// <paramref name="uid"/>/<paramref name="gid"/> (-1: anyone), or with <paramref name="adopt"/> takes over a
    /// TAP of that name a previous run left. Any other interface of that name is refused (EEXIST).</summary>
    public static PersistentTap Open(string? netns, string name, int uid, int gid, bool adopt)
    {
        if (name.Contains('%')) // TUNSETIFF would take it as a template and number the device itself
            throw new MvtapException(Errno.EINVAL, $"invalid tap name \"{name}\"");
        var fd = netns is null ? null : NetNamespace.Open(netns);
        try
        {
            var tap = new PersistentTap(fd, netns, name, 0);
            tap.IfIndex = tap.Run(() => tap.MakeOrAdopt(uid, gid, adopt));
            return tap;
        }
        catch
        {
            fd?.Dispose();
            throw;
        }
    }

    /// <summary>Makes the TAP again under its name after somebody deleted it (same owner and group).</summary>
    internal void Remake(int uid, int gid) => IfIndex = Run(() => MakeOrAdopt(uid, gid, adopt: false));

    // In the TAP's namespace.
    private int MakeOrAdopt(int uid, int gid, bool adopt)
    {
        using var rtnl = new Rtnetlink();
        if (rtnl.GetLink(Name) is { } existing)
        {
            if (adopt && existing.Kind == "tun" && existing.Address is not null) return existing.Index;
            throw new MvtapException(Errno.EEXIST, $"{Where}: an interface named {Name} exists already");
        }
        int index;
        using (var queue = TapDevice.Create(Name, vnetHeader: true))
        {
            queue.SetPersist(true);
            try
            {
                if (uid >= 0) queue.SetOwner(uid);
                if (gid >= 0) queue.SetGroup(gid);
                index = rtnl.GetLink(Name)?.Index ?? throw new MvtapException(Errno.ENODEV, $"{Where}: tap {Name} vanished");
            }
            catch
            {
                queue.SetPersist(false); // goes with its last queue
                throw;
            }
        }
        // The pod's own stack must not talk to the guest through it: no IPv6 link-local of the guest's MAC
        // (the guest's duplicate address detection would find it taken). Best effort: IPv6 may be off.
        try { File.WriteAllText($"/proc/sys/net/ipv6/conf/{Name}/disable_ipv6", "1"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return index;
    }

    /// <summary>Gives the TAP the endpoint's MAC (KubeVirt reads the guest's MAC from the pod's
    /// interface), MTU and admin state (null: left as it is).</summary>
    public void Follow(MacAddress mac, int mtu, bool? up) =>
        Run(() =>
        {
            using var rtnl = new Rtnetlink();
            rtnl.SetLink(new LinkRequest { Index = IfIndex, Address = mac, Mtu = (uint)mtu, Up = up });
            return 0;
        });

    /// <summary>The TAP as its namespace shows it now; null when it is not there (deleted, moved away).</summary>
    public LinkInfo? Read() => Run(() =>
    {
        using var rtnl = new Rtnetlink();
        return rtnl.GetLink(IfIndex) is { Kind: "tun" } link ? link : null;
    });

    /// <summary>Opens the datapath's socket on the TAP's network side, in its namespace.</summary>
    internal PacketSocket OpenSocket()
    {
        var socket = Run(() => new PacketSocket(IfIndex, PacketLower.DatapathSocketOptions));
        try
        {
            // the guest's frames carry its MAC, whatever the TAP's is
            socket.SetPromiscuous(true);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Deletes the TAP (a QEMU still holding its queue loses it). Nothing to do when it is gone
    /// already, or its namespace is.</summary>
    public void Delete()
    {
        try
        {
            Run(() =>
            {
                using var rtnl = new Rtnetlink();
                if (rtnl.GetLink(IfIndex) is { Kind: "tun" }) rtnl.DeleteLink(IfIndex);
                return 0;
            });
        }
        catch (RtnetlinkException e) when (e.Errno == (int)Errno.ENODEV) { /* deleted meanwhile */ }
    }

    private string Where => NetnsName is null ? "this namespace" : $"namespace {NetnsName}";

    private T Run<T>(Func<T> action) => _netns is null ? action() : NetNamespace.Run(_netns, action);

    public void Dispose() => _netns?.Dispose();
}
