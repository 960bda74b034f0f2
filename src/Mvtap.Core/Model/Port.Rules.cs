// The configuration rules a Port checks before it applies a change (spec 1.7, 4.1, 4.3 and
// macvlan_validate; the host port's), and the source-list operations it then applies. Split from Port.cs, which
// holds the changes themselves.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Model;

public sealed partial class Port
{
    /// <summary>What a change makes of an endpoint's mode, MAC and state, once validated.</summary>
    private readonly record struct ChangeTarget(EndpointMode Mode, MacAddress Mac, bool Up);

    // Under _gate: the whole change is checked before anything of it is applied.
    private ChangeTarget ValidateChange(Endpoint ep, EndpointChange c)
    {
        if (!_endpoints.Contains(ep)) throw NotOurs(ep);
        var mode = c.Mode ?? ep.Mode;
        if (!EndpointModes.IsDefined(mode))
            throw new MvtapException(Errno.EINVAL, $"mode {(uint)mode} is not a macvlan mode");
        if (mode != ep.Mode && (mode == EndpointMode.Passthru || ep.Mode == EndpointMode.Passthru))
            throw new MvtapException(Errno.EINVAL, "the mode cannot be changed to or from passthru");
        if (ep.IsHostPort && c.Mode is { } m && m != ep.Mode)
            throw new MvtapException(Errno.EOPNOTSUPP, $"{ep.Name} is a host port; it has no mode to change");
        if (ep.IsHostPort && c.HostAccess is not null)
            throw new MvtapException(Errno.EINVAL, $"{ep.Name} is the host port; hostaccess is a setting of the other endpoints");
        if (c.Flags is { } flags) ValidateFlags(flags);
        if (c.Mtu is { } mtu) ValidateMtu(mtu);
        // spec 6: MACADDR_MODE is checked against the mode after this message's mode change
        ValidateSources(mode, c.MacaddrOp, c.Macaddr, c.MacaddrData);
        var mac = c.Mac ?? ep.Mac;
        if (c.Mac is { } newMac && newMac != ep.Mac) ValidateNewMac(ep, newMac);
        bool up = c.Up ?? ep.IsUp;
        if (up && !ep.IsUp && !IsPassthru && IsAddressBusy(mac, ep))
            throw new MvtapException(Errno.EADDRINUSE, BusyMessage(mac, ep));
        return new ChangeTarget(mode, mac, up);
    }

    // Under _gate, on create: one host port per lower, and none on a passthru lower (the
    // passthru endpoint owns the lower, as in the kernel).
    private void ValidateHostPort(EndpointSettings s)
    {
        if (_endpoints.Find(e => e.IsHostPort) is { } other)
            throw new MvtapException(Errno.EBUSY, $"{Lower.Name} already has a host port ({other.Name})");
        if (s.Mode == EndpointMode.Passthru || s.MacaddrOp is not null)
            throw new MvtapException(Errno.EINVAL, "a host port takes no mode and no macaddr list");
    }

    /// <summary>spec 4.1 macvlan_addr_busy: the lower's MAC (not on a passthru port) or the
    /// MAC of any other up endpoint.</summary>
    private bool IsAddressBusy(MacAddress mac, Endpoint self) =>
        (!IsPassthru && mac == Lower.Mac) || _endpoints.Exists(e => e != self && e.IsUp && e.Mac == mac);

    private string BusyMessage(MacAddress mac, Endpoint self)
    {
        var other = _endpoints.Find(e => e != self && e.IsUp && e.Mac == mac);
        return $"address {mac} is in use by {(other is null ? Lower.Name : other.Name)}";
    }

    private void ValidateNewMac(Endpoint ep, MacAddress mac)
    {
        if (!mac.IsValidUnicast)
            throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {mac} is not a valid unicast address");
        if (!IsPassthru && IsAddressBusy(mac, ep))
            throw new MvtapException(Errno.EADDRINUSE, BusyMessage(mac, ep));
    }

    private static void ValidateFlags(EndpointFlags flags)
    {
        if ((flags & ~(EndpointFlags.NoPromisc | EndpointFlags.NoDst)) != 0)
            throw new MvtapException(Errno.EINVAL, $"flags 0x{(ushort)flags:x} has unknown bits");
    }

    private void ValidateMtu(int mtu)
    {
        if (mtu < MinMtu || mtu > Lower.Mtu)
            throw new MvtapException(Errno.EINVAL, $"mtu {mtu} is outside {MinMtu}..{Lower.Mtu} (the mtu of {Lower.Name})");
    }

    /// <summary>spec 1.7 and macvlan_validate: list operations only in SOURCE mode, ADD/DEL
    /// need an address, every address a valid unicast one.</summary>
    private static void ValidateSources(EndpointMode mode, MacaddrOperation? op, MacAddress? mac, IReadOnlyList<MacAddress>? data)
    {
        if (op is null)
        {
            if (mac is not null || data is not null)
                throw new MvtapException(Errno.EINVAL, "macaddr needs an operation (add, del, set or flush)");
            return;
        }
        if (op is not (MacaddrOperation.Add or MacaddrOperation.Delete or MacaddrOperation.Flush or MacaddrOperation.Set))
            throw new MvtapException(Errno.EINVAL, $"macaddr operation {(uint)op} is unknown");
        if (mode != EndpointMode.Source)
            throw new MvtapException(Errno.EINVAL, "macaddr lists need mode source");
        if (op is MacaddrOperation.Add or MacaddrOperation.Delete && mac is null)
            throw new MvtapException(Errno.EINVAL, $"macaddr {(op == MacaddrOperation.Add ? "add" : "del")} needs an address");
        if (mac is { } m && !m.IsValidUnicast)
            throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {m} is not a valid unicast address");
        foreach (var d in data ?? [])
            if (!d.IsValidUnicast)
                throw new MvtapException(Errno.EADDRNOTAVAIL, $"address {d} is not a valid unicast address");
    }

    private static void ApplySources(Endpoint ep, MacaddrOperation op, MacAddress? mac, IReadOnlyList<MacAddress>? data)
    {
        var list = ep.SourceMacs;
        switch (op)
        {
            case MacaddrOperation.Add:
                if (!list.Contains(mac!.Value)) list.Add(mac.Value); // duplicate add is a no-op
                break;
            case MacaddrOperation.Delete:
                list.Remove(mac!.Value); // absent address: success (spec 1.7)
                break;
            case MacaddrOperation.Flush:
                list.Clear();
                break;
            case MacaddrOperation.Set:
                list.Clear();
                if (mac is { } m) list.Add(m);
                foreach (var d in data ?? []) if (!list.Contains(d)) list.Add(d);
                break;
        }
    }
}
