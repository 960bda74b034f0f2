// One guest at a time per macvtap endpoint, whichever way it attaches (vhost-user, stream,
// tap): the first attachment that claims the slot serves the endpoint; the others refuse
// their clients until it lets go. Claimed and released from any thread.
namespace Mvtap.Datapath;

public sealed class GuestSlot
{
    private int _holder; // 0: free; otherwise the claiming attachment's id

    public int Holder => Volatile.Read(ref _holder);

    /// <summary>True if <paramref name="id"/> (non-zero) now holds the slot (or held it already).</summary>
    public bool TryClaim(int id) => Interlocked.CompareExchange(ref _holder, id, 0) is 0 || Holder == id;

    public void Release(int id) => Interlocked.CompareExchange(ref _holder, 0, id);
}
