// The handlers of the message set of spec 3.3, one per request, on a message that
// MessageValidator has already checked for size and descriptors. Protocol violations throw
// (the session ends); ring addresses outside guest memory mark the device broken and refuse
// the message but keep the session.
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Virtqueue;

namespace Mvtap.VhostUser.Net;

public sealed partial class VhostUserNetBackend
{
    private Outcome Dispatch(VhostUserConnection connection, VhostUserMessage message)
    {
        var p = message.Payload;
        switch (message.Request)
        {
            case VhostUserRequest.GetFeatures:
                connection.ReplyU64(message.Request, VirtioNetFeatures.Offered);
                return Outcome.Replied;
            case VhostUserRequest.SetFeatures:
                return SetFeatures(VhostUserPayload.ReadU64(p));
            case VhostUserRequest.GetProtocolFeatures:
                connection.ReplyU64(message.Request, VhostUserProtocolFeatures.Offered);
                return Outcome.Replied;
            case VhostUserRequest.SetProtocolFeatures:
                ulong proto = VhostUserPayload.ReadU64(p);
                if ((proto & ~VhostUserProtocolFeatures.Offered) != 0)
                    throw new VhostUserProtocolException($"protocol features 0x{proto:x} include some never offered");
                Volatile.Write(ref _protocolFeatures, proto);
                return Outcome.Ok;
            case VhostUserRequest.SetOwner:
                return Outcome.Ok;
            case VhostUserRequest.ResetOwner:
                ResetDevice();
                QueuesChanged?.Invoke();
                return Outcome.Ok;
            case VhostUserRequest.GetQueueNum:
                connection.ReplyU64(message.Request, (ulong)MaxQueuePairs);
                return Outcome.Replied;
            case VhostUserRequest.GetStatus:
                connection.ReplyU64(message.Request, _status);
                return Outcome.Replied;
            case VhostUserRequest.SetStatus:
                _status = (byte)VhostUserPayload.ReadU64(p);
                if (_status == 0) ClearBrokenIfStopped();
                return Outcome.Ok;
            case VhostUserRequest.SetMemTable:
                return SetMemTable(message);
            case VhostUserRequest.SetVringNum:
                return SetVringNum(VringState.Read(p));
            case VhostUserRequest.SetVringAddr:
                return SetVringAddr(VringAddress.Read(p));
            case VhostUserRequest.SetVringBase:
                return SetVringBase(VringState.Read(p));
            case VhostUserRequest.GetVringBase:
                return GetVringBase(connection, VringState.Read(p));
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                return SetVringFile(message);
            case VhostUserRequest.SetVringEnable:
                return SetVringEnable(VringState.Read(p));
            default:
                throw new VhostUserProtocolException($"unsupported request {message.Header.Request}");
        }
    }

    private Outcome SetFeatures(ulong features)
    {
        if ((features & ~VirtioNetFeatures.Offered) != 0)
            throw new VhostUserProtocolException($"features 0x{features:x} include some never offered (0x{VirtioNetFeatures.Offered:x})");
        using (LockAll())
        {
            Volatile.Write(ref _features, features);
            bool protocol = (features & VirtioNetFeatures.ProtocolFeatures) != 0;
            foreach (var vq in _vrings)
            {
                vq.EventIdx = (features & VirtioNetFeatures.EventIdx) != 0;
                vq.IndirectAllowed = (features & VirtioNetFeatures.IndirectDesc) != 0;
                // Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings run once started.
                if (!protocol) vq.Enabled = true;
            }
        }
        // A new negotiation is a device reset by the driver: a broken device may run again.
        ClearBrokenIfStopped();
        return Outcome.Ok;
    }

    private Outcome SetMemTable(VhostUserMessage message)
    {
        var p = message.Payload;
        int n = (int)BitConverter.ToUInt32(p);
        var regions = new MemoryRegionDescriptor[n];
        var fds = new FileDescriptor[n];
        for (int i = 0; i < n; i++)
        {
            regions[i] = MemoryRegionDescriptor.Read(p.Slice(VhostUserPayload.MemoryTableHeader + i * MemoryRegionDescriptor.Length));
            fds[i] = message.TakeFd(i);
        }
        GuestMemoryTable table;
        try
        {
            table = GuestMemoryTable.Map(regions, fds, GuestMemory);
        }
        catch (SystemCallException e)
        {
            throw new VhostUserProtocolException($"cannot map guest memory: {e.Message}");
        }
        finally
        {
            // The mappings keep the memory; the descriptors are no longer needed.
            foreach (var fd in fds) fd.Dispose();
        }

        GuestMemoryTable? old;
        int unsealed = table.UnsealedRegions;
        using (LockAll())
        {
            // the policy may have become Sealed while the table was being mapped (SetGuestMemory)
            if (unsealed > 0 && GuestMemory == GuestMemoryPolicy.Sealed)
            {
                table.Dispose();
                throw new VhostUserProtocolException("guest memory not sealed against shrinking (F_SEAL_SHRINK): the endpoint now maps only sealed guest memory (guestmem sealed)");
            }
            old = _memory;
            _memory = table;
            foreach (var vq in _vrings) TranslateOrBreak(vq);
        }
        old?.Dispose();
        _log(unsealed == 0
            ? $"vhost-user net: memory table with {n} region(s), sealed against shrinking"
            : $"vhost-user net: memory table with {n} region(s), {unsealed} not sealed against shrinking (F_SEAL_SHRINK), mapped because " +
              "the endpoint allows it (guestmem any): if the frontend truncates it, the daemon touches lost pages (SIGBUS), " +
              (GuestMemoryFaultsCatchable ? "which it contains (device broken, session closed)" : "which kills it (this runtime cannot catch the fault)"));
        return Outcome.Ok;
    }

    private Outcome SetVringNum(VringState s)
    {
        var vq = Vring(s.Index);
        if (s.Num == 0 || s.Num > SplitVirtqueue.MaxSize || (s.Num & (s.Num - 1)) != 0)
            throw new VhostUserProtocolException($"vring {s.Index}: size {s.Num} is not a power of two in 1..{SplitVirtqueue.MaxSize}");
        using (vq.Gate.EnterScope())
        {
            vq.SetSize((int)s.Num);
            return TranslateOrBreak(vq) ? Outcome.Ok : Outcome.Refused;
        }
    }

    private Outcome SetVringAddr(VringAddress a)
    {
        var vq = Vring(a.Index);
        using (vq.Gate.EnterScope())
        {
            vq.SetAddresses(a.Desc, a.Avail, a.Used);
            return TranslateOrBreak(vq) ? Outcome.Ok : Outcome.Refused;
        }
    }

    private Outcome SetVringBase(VringState s)
    {
        var vq = Vring(s.Index);
        if (s.Num > ushort.MaxValue) throw new VhostUserProtocolException($"vring {s.Index}: base {s.Num} exceeds 16 bits (packed rings are not offered)");
        using (vq.Gate.EnterScope()) vq.SetBase((ushort)s.Num);
        return Outcome.Ok;
    }

    private Outcome GetVringBase(VhostUserConnection connection, VringState s)
    {
        var vq = Vring(s.Index);
        ushort last;
        // Taking the lock waits for a running batch: the index we return is final (spec 3.3).
        using (vq.Gate.EnterScope()) last = vq.Stop();
        QueuesChanged?.Invoke();
        Span<byte> reply = stackalloc byte[VringState.Length];
        new VringState(s.Index, last).Write(reply);
        connection.Reply(VhostUserRequest.GetVringBase, reply);
        return Outcome.Replied;
    }

    private Outcome SetVringFile(VhostUserMessage message)
    {
        ulong u = VhostUserPayload.ReadU64(message.Payload);
        if ((u & ~(VhostUserPayload.VringIndexMask | VhostUserPayload.VringNoFdFlag)) != 0)
            throw new VhostUserProtocolException($"{message.Request}: unknown bits in 0x{u:x}");
        var vq = Vring((uint)(u & VhostUserPayload.VringIndexMask));
        FileDescriptor? fd = (u & VhostUserPayload.VringNoFdFlag) != 0 ? null : message.TakeFd(0);
        if (fd != null)
        {
            // The datapath reads kicks (RWF_NOWAIT) and the session's call notifier writes calls
            // on these; non-blocking as far as it is ours to say (the frontend shares the flag).
            try { FileIo.SetNonBlocking(fd, true); }
            catch (SystemCallException e)
            {
                fd.Dispose();
                throw new VhostUserProtocolException($"{message.Request}: unusable descriptor: {e.Message}");
            }
        }
        bool ok = true;
        using (vq.Gate.EnterScope())
        {
            switch (message.Request)
            {
                case VhostUserRequest.SetVringKick:
                    ok = TranslateOrBreak(vq);
                    string? note = vq.Start(fd);
                    if (note != null) _log($"vhost-user net: {note}");
                    if ((_features & VirtioNetFeatures.ProtocolFeatures) == 0) vq.Enabled = true;
                    break;
                case VhostUserRequest.SetVringCall:
                    vq.SetCall(fd);
                    // Interrupt once so a driver that missed a call across a reconnect re-reads
                    // the used ring (passt does the same).
                    if (fd != null) vq.SignalCall();
                    break;
                default:
                    vq.SetErr(fd);
                    break;
            }
        }
        if (message.Request == VhostUserRequest.SetVringKick) QueuesChanged?.Invoke();
        return ok ? Outcome.Ok : Outcome.Refused;
    }

    private Outcome SetVringEnable(VringState s)
    {
        var vq = Vring(s.Index);
        if (s.Num > 1) throw new VhostUserProtocolException($"vring {s.Index}: enable value {s.Num}");
        using (vq.Gate.EnterScope()) vq.Enabled = s.Num == 1;
        QueuesChanged?.Invoke();
        return Outcome.Ok;
    }

    private SplitVirtqueue Vring(uint index) =>
        index < (uint)_vrings.Length
            ? _vrings[index]
            : throw new VhostUserProtocolException($"vring index {index} out of range (max queue pairs {MaxQueuePairs})");

    /// <summary>Locates <paramref name="vq"/> in the current memory (caller holds its lock). A ring
    /// outside guest memory breaks the device rather than the session: the frontend may still
    /// fix it with a new table, or reset.</summary>
    private bool TranslateOrBreak(SplitVirtqueue vq)
    {
        string? error = vq.Translate(_memory);
        if (error == null) return true;
        vq.Fail(error);
        return false;
    }

    private void ClearBrokenIfStopped()
    {
        using (LockAll())
        {
            foreach (var vq in _vrings)
                if (vq.Started) return;
            foreach (var vq in _vrings) vq.ClearBroken();
            _health.Clear();
        }
    }
}
