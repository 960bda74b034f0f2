// One guest at a time per macvtap endpoint, whichever way it attaches (vhost-user, stream,
// tap): the token the endpoint's attachment parts contend for. The first part that claims it
// (by its guest id, GuestIds) serves the endpoint; the others refuse their clients until it
// lets go. Claimed and released from any thread.
namespace Mvtap.Datapath;

public sealed class GuestClaim
{
    private int _holder; // 0: free; otherwise the claiming part's guest id

    public int Holder => Volatile.Read(ref _holder);

    /// <summary>True if <paramref name="id"/> (non-zero) now holds the claim (or held it already).</summary>
    public bool TryClaim(int id) => Interlocked.CompareExchange(ref _holder, id, 0) is 0 || Holder == id;

    public void Release(int id) => Interlocked.CompareExchange(ref _holder, 0, id);
}

/// <summary>The guest id each attachment part of a macvtap endpoint claims its GuestClaim with.</summary>
public static class GuestIds
{
    public const int VhostUser = 1, Stream = 2, Tap = 3;
}
