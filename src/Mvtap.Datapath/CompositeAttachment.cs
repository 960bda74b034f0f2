// A macvtap endpoint has several attachment points at once (tapN.vhost, tapN.stream, a tap
// relay) but one guest at a time: this joins them into the one attachment the datapath serves
// for the endpoint. Each part keeps SourcesPerPart poll sources of its own; frames for the
// guest go to the part holding the endpoint's GuestClaim, found by the guest id it was given.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Linux;

namespace Mvtap.Datapath;

public sealed class CompositeAttachment : IEndpointAttachment
{
    public const int SourcesPerPart = 4;
    private readonly IEndpointAttachment[] _parts;
    private readonly int[] _guestIds;
    private IEndpointAttachment? _last;
    private int _nextPending;

    /// <param name="claim">claimed by a part, with the guest id it is listed with, while its guest is attached.</param>
    public CompositeAttachment(Endpoint endpoint, GuestClaim claim, params (int GuestId, IEndpointAttachment Part)[] parts)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parts.Length * SourcesPerPart, LowerDatapath.MaxPollFds);
        _parts = new IEndpointAttachment[parts.Length];
        _guestIds = new int[parts.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            var (id, part) = parts[k];
            if (part.Endpoint != endpoint) throw new ArgumentException("every part must carry the same endpoint", nameof(parts));
            if (id <= 0 || Array.IndexOf(_guestIds, id, 0, k) >= 0) throw new ArgumentException("every part needs its own positive guest id", nameof(parts));
            _parts[k] = part;
            _guestIds[k] = id;
        }
        Endpoint = endpoint;
        Claim = claim;
    }

    public Endpoint Endpoint { get; }
    public GuestClaim Claim { get; }

    public void SetDatapath(LowerDatapath? datapath)
    {
        foreach (var p in _parts) p.SetDatapath(datapath);
        _last = null;
    }

    public int GetPollFds(Span<int> fds)
    {
        Span<int> part = stackalloc int[SourcesPerPart];
        for (int k = 0; k < _parts.Length; k++)
        {
            part.Fill(-1);
            int n = Math.Min(_parts[k].GetPollFds(part), SourcesPerPart);
            for (int i = 0; i < SourcesPerPart; i++) fds[k * SourcesPerPart + i] = i < n ? part[i] : -1;
        }
        return _parts.Length * SourcesPerPart;
    }

    public int ReceiveBatch(int source, SocketFrameBatch scratch)
    {
        int k = source / SourcesPerPart;
        if ((uint)k >= (uint)_parts.Length) return 0;
        _last = _parts[k];
        return _last.ReceiveBatch(source % SourcesPerPart, scratch);
    }

    public ReceivedFrame GetFrame(int i, SocketFrameBatch scratch, out ReadOnlySpan<byte> frame, out VirtioNetHeader vnet)
    {
        if (_last is null) { frame = default; vnet = default; return ReceivedFrame.Ignore; }
        return _last.GetFrame(i, scratch, out frame, out vnet);
    }

    public void EndReceive() => _last?.EndReceive();

    public bool ReceivePending
    {
        get
        {
            foreach (var p in _parts) if (p.ReceivePending) return true;
            return false;
        }
    }

    public int PendingSource
    {
        get
        {
            for (int j = 0; j < _parts.Length; j++)
            {
                int k = (_nextPending + j) % _parts.Length;
                if (!_parts[k].ReceivePending) continue;
                _nextPending = k + 1;
                return k * SourcesPerPart + _parts[k].PendingSource;
            }
            return 0;
        }
    }

    public void Deliver(in VnetFrame packet)
    {
        int k = Array.IndexOf(_guestIds, Claim.Holder);
        if (k >= 0) _parts[k].Deliver(packet);
        else Endpoint.Counters.CountRxDrop(DropReason.NoGuest); // a macvtap nobody reads
    }

    public void Flush()
    {
        foreach (var p in _parts) p.Flush();
    }
}
