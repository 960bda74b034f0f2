// `link set`: one request may change the endpoint in its port (address, mode, flags, state, MTU,
// source list…), its name, the owner of its attachment points and the guest memory its vhost-user
// attachment maps, its queue length and its namespace. All of it is validated first; then applied and saved; and when anything fails on the
// way (a later part refused, or the state not saved) every part applied is put back to the old
// values captured before (SetUndo). A namespace move is the exception: it cannot be taken back
// without costing the container its NIC's configuration, so it is saved first and made last.
using Microsoft.Extensions.Logging;
using Mvtap.Control;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.VhostUser.Memory;

namespace Mvtap.Daemon.Links;

public sealed partial class LinkRegistry
{
    private ControlResponse Set(LinkSetRequest r, uint clientUid)
    {
        RequestValues.Given(r.Name);
        var record = Require(r.Name);
        var ep = record.Endpoint;
        if (r.NewName is { } newName && newName != ep.Name)
        {
            RequestValues.Name(newName, "name");
            if (FindRecord(newName) is not null) throw new MvtapException(Errno.EEXIST, $"a link named {newName} already exists");
        }
        var op = r.MacaddrOperation is null ? (MacaddrOperation?)null : RequestValues.MacaddrOp(r.MacaddrOperation);
        var (single, list) = op is { } o ? RequestValues.Macaddrs(o, r.Macaddrs) : (null, null);
        var guestMemory = r.GuestMemory is null ? (GuestMemoryPolicy?)null : RequestValues.GuestMemory(r.GuestMemory, record.Kind, ep.Name);
        var change = new EndpointChange
        {
            Mac = r.Address is null ? null : RequestValues.Mac(r.Address),
            Up = r.Up,
            Mode = r.Mode is null ? null : RequestValues.Mode(r.Mode),
            Flags = r.Flags is null ? null : RequestValues.Flags(r.Flags),
            Mtu = r.Mtu,
            BcQueueLen = r.BcQueueLen,
            BcCutoff = r.BcCutoff,
            MacaddrOp = op,
            Macaddr = single,
            MacaddrData = list,
            SpoofCheck = r.SpoofCheck,
            HostAccess = r.HostAccess,
        };
        if (r.Netns is not null && record.Kind != EndpointKind.Macvlan)
            throw new MvtapException(Errno.EINVAL, $"{ep.Name} is a {record.TypeName}: only macvlan endpoints move to a namespace");
        var netns = r.Netns is { } ns ? NamespaceArgument.Resolve(ns, clientUid) : null;
        if (record.TapName is { } tap && (r.Owner is not null || r.Group is not null || guestMemory is not null))
            throw new MvtapException(Errno.EOPNOTSUPP, $"{ep.Name}'s tap {tap} keeps the owner and group it was made with, and maps no guest memory");
        bool owning = (r.Owner is not null || r.Group is not null || guestMemory is not null) && record.Kind == EndpointKind.Macvtap;
        if (owning)
        {
            // unknown names are refused before anything is applied
            Attachments.Accounts.Uid(r.Owner);
            Attachments.Accounts.Gid(r.Group);
            Attachments.VhostUserDialRules.CheckOwnerChange(record.VhostUserConnect, r.Owner, clientUid);
        }

        var undo = SetUndo.Capture(record);
        bool applied = false; // a refusal of the port's rules comes before anything is applied
        try
        {
            record.Lower.Port.Change(ep, change);
            applied = true;
            if (r.NewName is { } nn) record.Lower.Port.Rename(ep, nn);
            if (owning) record.Lower.OpenAttachmentPoints(ep, record.Index, r.Owner, r.Group, _runDir, guestMemory ?? record.GuestMemory);
            if (guestMemory is { } gm) record.GuestMemory = gm;
            if (r.Owner is not null) record.Owner = r.Owner;
            if (r.Group is not null) record.Group = r.Group;
            if (r.TxQueueLen is { } q) record.TxQueueLen = q;
            if (netns is not null) record.Netns = netns;
            Save();
        }
        catch (Exception e)
        {
            if (applied) _log.LogError("{Name}: the change is taken back: {Error}", undo.Name, e.Message);
            undo.Apply(record, _runDir, Undo);
            throw;
        }
        if (netns is not null)
        {
            try
            {
                record.Lower.MoveToNamespace(ep, netns);
            }
            catch
            {
                undo.Apply(record, _runDir, Undo);
                Undo(() => Save(), $"save {record.Name}'s configuration again after its move to {netns} failed");
                throw;
            }
        }
        record.Lower.EndpointChanged(ep);
        return ControlResponse.Success([View(record)]);
    }

    /// <summary>What a `link set` can change of an endpoint, as it was before the request.</summary>
    private sealed record SetUndo(string Name, MacAddress Mac, EndpointMode Mode, EndpointFlags Flags, bool Up, int Mtu,
        uint BcQueueLen, int BcCutoff, bool SpoofCheck, IReadOnlyList<MacAddress> Sources,
        string? Owner, string? Group, GuestMemoryPolicy GuestMemory, uint TxQueueLen, string? Netns, bool HostAccess)
    {
        public static SetUndo Capture(EndpointRecord r)
        {
            var ep = r.Endpoint;
            return new SetUndo(ep.Name, ep.Mac, ep.Mode, ep.Flags, ep.IsUp, ep.Mtu, ep.BcQueueLenRequest, ep.Port.BcCutoff,
                ep.SpoofCheck, [.. ep.SourceList], r.Owner, r.Group, r.GuestMemory, r.TxQueueLen, r.Netns, ep.HostAccess);
        }

        /// <summary>Puts back every part that differs, in the reverse order of Set; each part on its own,
        /// so one that cannot be put back (reported through <paramref name="undo"/>) does not stop the others.</summary>
        public void Apply(EndpointRecord r, string runDir, Action<Action, string> undo)
        {
            var ep = r.Endpoint;
            var port = r.Lower.Port;
            r.Netns = Netns;
            r.TxQueueLen = TxQueueLen;
            if (r.Owner != Owner || r.Group != Group)
            {
                // attachment points made without an owner or group belong to root, as mvtapd made them
                undo(() => r.Lower.OpenAttachmentPoints(ep, r.Index, Owner ?? "0", Group ?? "0", runDir, GuestMemory), $"give {Name}'s attachment points back to their owner");
                (r.Owner, r.Group) = (Owner, Group);
            }
            if (r.GuestMemory != GuestMemory)
            {
                undo(() => r.Lower.OpenAttachmentPoints(ep, r.Index, null, null, runDir, GuestMemory), $"put {Name}'s guestmem back to {GuestMemory.Name()}");
                r.GuestMemory = GuestMemory;
            }
            if (ep.Name != Name) undo(() => port.Rename(ep, Name), $"rename {ep.Name} back to {Name}");
            if (ep.Mac == Mac && ep.Mode == Mode && ep.Flags == Flags && ep.IsUp == Up && ep.Mtu == Mtu && ep.BcQueueLenRequest == BcQueueLen
                && port.BcCutoff == BcCutoff && ep.SpoofCheck == SpoofCheck && ep.SourceList.SequenceEqual(Sources) && ep.HostAccess == HostAccess)
                return;
            undo(() => port.Change(ep, new EndpointChange
            {
                Mac = Mac, Mode = Mode, Flags = Flags, Up = Up, Mtu = Mtu, BcQueueLen = BcQueueLen, BcCutoff = BcCutoff, SpoofCheck = SpoofCheck,
                HostAccess = ep.IsHostPort ? null : HostAccess,
                MacaddrOp = Mode == EndpointMode.Source ? MacaddrOperation.Set : null,
                MacaddrData = Mode == EndpointMode.Source ? Sources : null,
            }), $"put {Name} back as it was");
            r.Lower.EndpointChanged(ep);
        }
    }
}
