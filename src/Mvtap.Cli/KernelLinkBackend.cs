// ILinkBackend on the real kernel (`mvtap --kernel link ...`): the same requests carried out as
// rtnetlink messages through Mvtap.Linux's Rtnetlink client, never by shelling out to ip.
// Not yet: what udev would do for a macvtap (/dev/tapN and its owner/group), and spoofchk on
// (the kernel has no such check); those are refused with EOPNOTSUPP rather than ignored.
using Mvtap.Control;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;
using Mvtap.Linux.Interop;
using Mvtap.Linux.Netlink;

namespace Mvtap.Cli;

internal sealed class KernelLinkBackend(Func<Rtnetlink> open) : ILinkBackend
{
    private const int ENODEV = 19, EINVAL = 22, EOPNOTSUPP = 95;

    public KernelLinkBackend() : this(() => new Rtnetlink()) { }

    public void Add(LinkAddRequest r)
    {
        RefuseUnsupported(r.Owner, r.Group, r.SpoofCheck);
        using var rtnl = open();
        var lower = rtnl.GetLink(r.Lower) ?? throw NoDevice(r.Lower);
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
    }

    public void Set(LinkSetRequest r)
    {
        RefuseUnsupported(r.Owner, r.Group, r.SpoofCheck);
        using var rtnl = open();
        var link = rtnl.GetLink(r.Name) ?? throw NoDevice(r.Name);
        using var netnsFd = OpenNetns(r.Netns, out int? netnsPid);

        var macs = r.Macaddrs?.Select(MacAddress.Parse).ToList() ?? [];
        MacaddrOperation? op = r.MacaddrOperation switch
        {
            null => null,
            "add" => MacaddrOperation.Add,
            "del" => MacaddrOperation.Delete,
            "set" => MacaddrOperation.Set,
            "flush" => MacaddrOperation.Flush,
            var other => throw new LinkOperationException(EINVAL, $"unknown macaddr operation \"{other}\""),
        };
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
    }

    public void Delete(LinkDelRequest r)
    {
        using var rtnl = open();
        var link = rtnl.GetLink(r.Name) ?? throw NoDevice(r.Name);
        Call(() => rtnl.DeleteLink(link.Index));
    }

    public IReadOnlyList<LinkView> Show(LinkShowRequest r)
    {
        using var rtnl = open();
        var all = Call(rtnl.GetLinks);
        var names = all.ToDictionary(l => l.Index, l => l.Name);
        var views = all
            .Where(l => l.Kind is "macvlan" or "macvtap")
            .Where(l => r.Name is null || l.Name == r.Name)
            .Select(l => ToView(l, names))
            .ToList();
        if (r.Name is not null && views.Count == 0)
            throw new LinkOperationException(ENODEV, all.Any(l => l.Name == r.Name)
                ? $"{r.Name} is not a macvtap or macvlan link"
                : $"Device \"{r.Name}\" does not exist");
        return views;
    }

    private static LinkView ToView(LinkInfo l, Dictionary<int, string> names)
    {
        var m = l.Macvlan ?? new MacvlanInfo();
        var flags = new List<string>();
        if (m.Flags.HasFlag(EndpointFlags.NoPromisc)) flags.Add("nopromisc");
        if (m.Flags.HasFlag(EndpointFlags.NoDst)) flags.Add("nodst");
        string lower = l.Link is int li && l.LinkNetNsId is null && names.TryGetValue(li, out var n) ? n : $"if{l.Link ?? 0}";
        return new LinkView
        {
            Index = l.Index,
            Name = l.Name,
            Type = l.Kind ?? "macvlan",
            Lower = lower,
            Mac = l.Address?.ToString() ?? "00:00:00:00:00:00",
            Mode = m.Mode.Name(),
            Flags = flags,
            AdminUp = l.IsUp,
            OperState = l.OperStateName,
            Carrier = l.Carrier ?? l.IsLowerUp,
            Mtu = (int)l.Mtu,
            MinMtu = (int)(l.MinMtu ?? 68),
            MaxMtu = (int)(l.MaxMtu ?? 65535),
            TxQueueLen = l.TxQueueLength,
            BcQueueLen = m.BcQueueLength,
            UsedBcQueueLen = m.BcQueueLengthUsed,
            BcCutoff = m.BcCutoff,
            Macaddrs = m.Macaddrs.Select(a => a.ToString()).ToList(),
            SpoofCheck = false,
            Promiscuity = (int)l.Promiscuity,
            Allmulti = (int)(l.Allmulti ?? 0),
        };
    }

    private static EndpointMode Mode(string name) =>
        EndpointModeNames.TryParse(name, out var mode) ? mode : throw new LinkOperationException(EINVAL, $"unknown mode \"{name}\"");

    private static EndpointFlags Flags(List<string> names) => names.Aggregate(EndpointFlags.None, (f, n) => f | n switch
    {
        "nopromisc" => EndpointFlags.NoPromisc,
        "nodst" => EndpointFlags.NoDst,
        _ => throw new LinkOperationException(EINVAL, $"unknown flag \"{n}\""),
    });

    private static void RefuseUnsupported(string? owner, string? group, bool? spoofCheck)
    {
        if (owner is not null || group is not null)
            throw new LinkOperationException(EOPNOTSUPP, "--kernel does not set the owner or group of /dev/tapN yet");
        if (spoofCheck == true)
            throw new LinkOperationException(EOPNOTSUPP, "the kernel's macvlan has no spoofchk; only \"spoofchk off\" is possible with --kernel");
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
            throw new LinkOperationException(EINVAL, $"Invalid \"netns\" value \"{netns}\": {e.Message}");
        }
    }

    private static LinkOperationException NoDevice(string name) => new(ENODEV, $"Cannot find device \"{name}\"");

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
