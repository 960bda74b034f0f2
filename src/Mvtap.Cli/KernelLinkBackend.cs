// ILinkBackend on the real kernel (`mvtap --kernel link ...`): the same requests carried out as
// rtnetlink messages through Mvtap.Linux's Rtnetlink client, never by shelling out to ip.
// For a macvtap it also does what udev would: /dev/tapN with the requested owner and group
// (TapNodes), removed again on delete. spoofchk on is refused with EOPNOTSUPP (the kernel has no
// such check), as is owner/group together with netns (the node would be another namespace's).
// The request's words are read with Core's LinkWords, errnos named from Core's Errno.
using Mvtap.Control;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cli;

/// <param name="open">The rtnetlink socket, in the namespace the links live in.</param>
/// <param name="openNetns">That same namespace, for reading its sysfs (see NamespaceSysfs).</param>
/// <param name="warnings">Where conflicts that were worked around are reported (stderr).</param>
internal sealed class KernelLinkBackend(Func<Rtnetlink> open, Func<FileDescriptor> openNetns, TextWriter warnings) : ILinkBackend
{
    private readonly TapNodes _nodes = new(openNetns, warnings);

    /// <summary>The calling thread's namespace, as `ip` without -n would use.</summary>
    public KernelLinkBackend(TextWriter warnings) : this(() => new Rtnetlink(), NetNamespace.OpenCurrent, warnings) { }

    public void Add(LinkAddRequest r)
    {
        if (r.TapName is not null)
            throw new LinkOperationException(Errno.EOPNOTSUPP, "the kernel's macvtap is its own queue (/dev/tapN): tap TAPNAME is a carrier of mvtapd's");
        RefuseUnsupported(r.Owner, r.Group, r.SpoofCheck, r.Netns, r.GuestMemory);
        // names are resolved first, so an unknown user does not leave a link behind
        uint? uid = r.Owner is null ? null : AccountLookup.UserId(r.Owner);
        uint? gid = r.Group is null ? null : AccountLookup.GroupId(r.Group);
        using var rtnl = open();
        var lower = rtnl.GetLink(r.Lower) ?? throw NoDevice(r.Lower);
        bool tap = r.Type == LinkWords.Macvtap && r.Netns is null;
        var before = tap && r.Name is null ? rtnl.GetLinks().Select(l => l.Index).ToHashSet() : null;
        using var netnsFd = OpenNetns(r.Netns, out int? netnsPid);
        var macvlan = new MacvlanAttributes
        {
            Mode = r.Mode is null ? null : Mode(r.Mode),
            Flags = r.Flags is null ? null : Flags(r.Flags),
            BcQueueLength = r.BcQueueLen,
            BcCutoff = r.BcCutoff,
            // a new link's list is empty, so "add" of several addresses is the same as "set"
            MacaddrMode = r.MacaddrOperation is null ? null : MacaddrOperation.Set,
            MacaddrData = r.Macaddrs?.Select(MacAddress.Parse).ToList(),
        };
        Call(() => rtnl.CreateLink(new LinkRequest
        {
            Name = r.Name,
            Kind = r.Type,
            Link = lower.Index,
            Address = r.Address is null ? null : MacAddress.Parse(r.Address),
            Mtu = r.Mtu is int m ? (uint)m : null,
            TxQueueLength = r.TxQueueLen,
            Up = r.Up,
            NetNsFd = netnsFd,
            NetNsPid = netnsPid,
            Macvlan = macvlan,
        }));
        if (!tap) return;

        // without a name the kernel chose one (macvtapN): the new link is the one not there before
        var created = r.Name is not null
            ? rtnl.GetLink(r.Name)
            : rtnl.GetLinks().FirstOrDefault(l => l.Kind == LinkWords.Macvtap && l.Link == lower.Index && !before!.Contains(l.Index));
        if (created is null) return; // deleted meanwhile by someone else: nothing to give a node to
        try
        {
            _nodes.Ensure(_nodes.ReadOne(created.Name, created.Index), uid, gid, TapNodes.PermissionsFor(gid is not null));
        }
        catch
        {
            // udev's part failed: take the link away again rather than leave a half-made endpoint
            Call(() => rtnl.DeleteLink(created.Index));
            throw;
        }
    }

    public void Set(LinkSetRequest r)
    {
        RefuseUnsupported(r.Owner, r.Group, r.SpoofCheck, r.Netns, r.GuestMemory);
        uint? uid = r.Owner is null ? null : AccountLookup.UserId(r.Owner);
        uint? gid = r.Group is null ? null : AccountLookup.GroupId(r.Group);
        using var rtnl = open();
        var link = rtnl.GetLink(r.Name) ?? throw NoDevice(r.Name);
        if ((uid is not null || gid is not null) && link.Kind != LinkWords.Macvtap)
            throw new LinkOperationException(Errno.EOPNOTSUPP, $"owner and group belong to a macvtap's /dev/tapN; {r.Name} is a {link.Kind ?? "non-macvlan"} link");
        using var netnsFd = OpenNetns(r.Netns, out int? netnsPid);

        var macs = r.Macaddrs?.Select(MacAddress.Parse).ToList() ?? [];
        MacaddrOperation? op = r.MacaddrOperation is null ? null
            : LinkWords.TryParseMacaddrOperation(r.MacaddrOperation, out var o) ? o
            : throw new LinkOperationException(Errno.EINVAL, $"unknown macaddr operation \"{r.MacaddrOperation}\"");
        bool oneAddressPerMessage = op is MacaddrOperation.Add or MacaddrOperation.Delete;

        var macvlan = new MacvlanAttributes
        {
            Mode = r.Mode is null ? null : Mode(r.Mode),
            Flags = r.Flags is null ? null : Flags(r.Flags),
            BcQueueLength = r.BcQueueLen,
            BcCutoff = r.BcCutoff,
            MacaddrMode = op,
            Macaddr = oneAddressPerMessage ? macs[0] : null,
            MacaddrData = op == MacaddrOperation.Set ? macs : null,
        };
        bool anyMacvlan = macvlan != new MacvlanAttributes();
        Call(() => rtnl.SetLink(new LinkRequest
        {
            Index = link.Index,
            Name = r.NewName,
            Kind = anyMacvlan ? link.Kind : null,
            Address = r.Address is null ? null : MacAddress.Parse(r.Address),
            Mtu = r.Mtu is int m ? (uint)m : null,
            TxQueueLength = r.TxQueueLen,
            Up = r.Up,
            NetNsFd = netnsFd,
            NetNsPid = netnsPid,
            Macvlan = anyMacvlan ? macvlan : null,
        }));
        // IFLA_MACVLAN_MACADDR carries one address per message: the rest follow one by one
        if (oneAddressPerMessage && r.Netns is null)
            foreach (var mac in macs.Skip(1))
                Call(() => rtnl.SetLink(new LinkRequest
                {
                    Index = link.Index, Kind = link.Kind,
                    Macvlan = new MacvlanAttributes { MacaddrMode = op, Macaddr = mac },
                }));
        if (uid is not null || gid is not null)
            _nodes.Ensure(_nodes.ReadOne(r.NewName ?? link.Name, link.Index), uid, gid, gid is null ? null : TapNodes.PermissionsFor(true));
    }

    public void Delete(LinkDelRequest r)
    {
        using var rtnl = open();
        var link = rtnl.GetLink(r.Name) ?? throw NoDevice(r.Name);
        // the device number must be read while the link (and its sysfs entry) still exists
        var device = link.Kind == LinkWords.Macvtap ? TryReadDevices([link]).SingleOrDefault() : null;
        Call(() => rtnl.DeleteLink(link.Index));
        if (device is not null) _nodes.Remove(device);
    }

    public IReadOnlyList<LinkView> Show(LinkShowRequest r)
    {
        using var rtnl = open();
        var all = Call(rtnl.GetLinks);
        var names = all.ToDictionary(l => l.Index, l => l.Name);
        var views = all
            .Where(l => l.Kind is LinkWords.Macvlan or LinkWords.Macvtap)
            .Where(l => r.Name is null || l.Name == r.Name)
            .ToList();
        var devices = TryReadDevices(views.Where(l => l.Kind == LinkWords.Macvtap)).ToDictionary(d => d.Index);
        var result = views.Select(l => ToView(l, names, devices.GetValueOrDefault(l.Index))).ToList();
        if (r.Name is not null && result.Count == 0)
            throw new LinkOperationException(Errno.ENODEV, all.Any(l => l.Name == r.Name)
                ? $"{r.Name} is not a macvtap or macvlan link"
                : $"Device \"{r.Name}\" does not exist");
        return result;
    }

    /// <summary>
    /// The links' character devices; empty when sysfs cannot be read as their namespace sees it
    /// (that needs CAP_SYS_ADMIN; an unprivileged show still works, only without owner/group).
    /// </summary>
    private IReadOnlyList<TapDevice> TryReadDevices(IEnumerable<LinkInfo> links)
    {
        try
        {
            return _nodes.Read(links.Select(l => (l.Name, l.Index)));
        }
        catch (LinkOperationException)
        {
            return [];
        }
    }

    private LinkView ToView(LinkInfo l, Dictionary<int, string> names, TapDevice? device)
    {
        // ownership as udev would have set it; root (the default) is not shown, like an unset owner
        var node = device is null ? null : _nodes.Find(device);
        var m = l.Macvlan ?? new MacvlanInfo();
        string lower = l.Link is int li && l.LinkNetNsId is null && names.TryGetValue(li, out var n) ? n : $"if{l.Link ?? 0}";
        return new LinkView
        {
            Index = l.Index,
            Name = l.Name,
            Type = l.Kind ?? LinkWords.Macvlan,
            Lower = lower,
            Mac = l.Address?.ToString() ?? "00:00:00:00:00:00",
            Mode = m.Mode.Name(),
            Flags = m.Flags.Names(),
            AdminUp = l.IsUp,
            OperState = l.OperStateName,
            Carrier = l.Carrier ?? l.IsLowerUp,
            Mtu = (int)l.Mtu,
            MinMtu = (int)(l.MinMtu ?? 68),
            MaxMtu = (int)(l.MaxMtu ?? 65535),
            TxQueueLen = l.TxQueueLength,
            Qdisc = l.Qdisc,
            BcQueueLen = m.BcQueueLength,
            UsedBcQueueLen = m.BcQueueLengthUsed,
            BcCutoff = m.BcCutoff,
            Macaddrs = m.Macaddrs.Select(a => a.ToString()).ToList(),
            SpoofCheck = false,
            Owner = node?.Info.Uid is uint u && u != 0 ? AccountLookup.UserName(u) : null,
            Group = node?.Info.Gid is uint g && g != 0 ? AccountLookup.GroupName(g) : null,
            Promiscuity = (int)l.Promiscuity,
            Allmulti = (int)(l.Allmulti ?? 0),
        };
    }

    private static EndpointMode Mode(string name) =>
        LinkWords.TryParseMode(name, out var mode) ? mode : throw new LinkOperationException(Errno.EINVAL, $"unknown mode \"{name}\"");

    private static EndpointFlags Flags(List<string> names) =>
        LinkWords.TryParseFlags(names, out var flags, out var unknown) ? flags
            : throw new LinkOperationException(Errno.EINVAL, $"unknown flag \"{unknown}\"");

    private static void RefuseUnsupported(string? owner, string? group, bool? spoofCheck, string? netns, string? guestMemory)
    {
        if (guestMemory is not null)
            throw new LinkOperationException(Errno.EOPNOTSUPP, "the kernel's macvtap maps no guest memory: guestmem is a setting of mvtapd's vhost-user attachment");
        if ((owner is not null || group is not null) && netns is not null)
            throw new LinkOperationException(Errno.EOPNOTSUPP, "--kernel sets owner and group only for a macvtap that stays in this namespace (its /dev/tapN is named by this namespace's ifindex)");
        if (spoofCheck == true)
            throw new LinkOperationException(Errno.EOPNOTSUPP, "the kernel's macvlan has no spoofchk; only \"spoofchk off\" is possible with --kernel");
    }

    private static FileDescriptor? OpenNetns(string? netns, out int? pid)
    {
        pid = null;
        if (netns is null) return null;
        if (int.TryParse(netns, out int p) && p > 0) { pid = p; return null; }
        try
        {
            return NetNamespace.Open(netns);
        }
        catch (Exception e) when (e is not LinkOperationException)
        {
            throw new LinkOperationException(Errno.EINVAL, $"Invalid \"netns\" value \"{netns}\": {e.Message}");
        }
    }

    private static LinkOperationException NoDevice(string name) => new(Errno.ENODEV, $"Cannot find device \"{name}\"");

    private static void Call(Action action) => Call(() => { action(); return 0; });

    private static T Call<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (NetlinkException e)
        {
            throw new LinkOperationException(e.Errno, e.KernelMessage ?? "");
        }
    }
}
