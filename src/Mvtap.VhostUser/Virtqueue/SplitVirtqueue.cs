// One split virtqueue (virtio 1.x 2.7) shared with a hostile guest: ring location and size
// from the control messages, avail consumption, chain walking with loop and bounds checks,
// used publication with the right barriers, and call/kick suppression (EVENT_IDX or flags).
// Every method that touches guest memory runs under Gate; a guest error marks it broken.
using System.Runtime.CompilerServices;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Memory;

namespace Mvtap.VhostUser.Virtqueue;

public sealed unsafe partial class SplitVirtqueue
{
    public const int MaxSize = 32768;
    private const ushort AvailFlagNoInterrupt = 1;
    private const int MaxIndirectEntries = MaxSize;

    private readonly DeviceHealth _health;
    private byte* _desc;
    private byte* _avail;
    private byte* _used;
    private ushort _seenAvail;
    private ushort _signalledUsed;
    private bool _signalledUsedValid;

    /// <summary>Held by whoever touches the ring: one datapath batch, or a control message
    /// that changes the ring or the memory under it.</summary>
    public readonly Lock Gate = new();

    public SplitVirtqueue(int index, DeviceHealth health)
    {
        Index = index;
        _health = health;
    }

    public int Index { get; }
    public int Size { get; private set; }
    public ulong DescAddr { get; private set; }
    public ulong AvailAddr { get; private set; }
    public ulong UsedAddr { get; private set; }
    public bool HasAddresses { get; private set; }
    public bool Translated => _desc != null;
    public ushort LastAvail { get; private set; }
    public ushort UsedIndex { get; private set; }
    public bool Started { get; private set; }
    public bool Enabled { get; set; }
    public bool EventIdx { get; set; }
    public bool IndirectAllowed { get; set; }
    public FileDescriptor? Kick { get; private set; }
    public FileDescriptor? Call { get; private set; }
    public FileDescriptor? Err { get; private set; }
    /// <summary>Writes this ring's call eventfd for the current session (set and cleared under
    /// Gate by the device; null between sessions, when there is no call descriptor either).</summary>
    public CallNotifier? Notifier { get; set; }
    public string? BrokenReason { get; private set; }

    /// <summary>Started, located in memory, and neither it nor its device broken: the datapath
    /// may use it.</summary>
    public bool IsReady => Started && _desc != null && BrokenReason == null && !_health.IsBroken;

    /// <summary>Records a guest error: the ring (and the device) is not touched again until the
    /// frontend resets it.</summary>
    public void Fail(string reason)
    {
        BrokenReason ??= reason;
        _health.MarkBroken(reason);
    }

    public void SetSize(int size) => Size = size;

    public void SetBase(ushort lastAvail)
    {
        LastAvail = _seenAvail = lastAvail;
        UsedIndex = lastAvail;
        _signalledUsedValid = false;
    }

    public void SetAddresses(ulong desc, ulong avail, ulong used)
    {
        DescAddr = desc;
        AvailAddr = avail;
        UsedAddr = used;
        HasAddresses = true;
        _desc = _avail = _used = null;
    }

    /// <summary>Locates the rings in <paramref name="memory"/>. Returns an error text when an
    /// address is misaligned or the ring does not fit inside one region.</summary>
    public string? Translate(GuestMemoryTable? memory)
    {
        _desc = _avail = _used = null;
        if (!HasAddresses || memory == null || Size == 0) return null;
        if ((DescAddr & 15) != 0 || (AvailAddr & 1) != 0 || (UsedAddr & 3) != 0)
            return $"vring {Index}: misaligned ring address";
        ulong n = (ulong)Size;
        // EVENT_IDX adds used_event/avail_event after the rings; always reserve them.
        if (!memory.TryTranslateUser(DescAddr, 16 * n, out byte* d)) return $"vring {Index}: descriptor table 0x{DescAddr:x} outside guest memory";
        if (!memory.TryTranslateUser(AvailAddr, 6 + 2 * n, out byte* a)) return $"vring {Index}: avail ring 0x{AvailAddr:x} outside guest memory";
        if (!memory.TryTranslateUser(UsedAddr, 6 + 8 * n, out byte* u)) return $"vring {Index}: used ring 0x{UsedAddr:x} outside guest memory";
        _desc = d;
        _avail = a;
        _used = u;
        return null;
    }

    /// <summary>Starts the ring (SET_VRING_KICK). If the guest's used index disagrees with the
    /// base we were given (DPDK virtio-user reconnects with base 0), resync to it as DPDK does.</summary>
    public string? Start(FileDescriptor? kick)
    {
        Kick?.Dispose();
        Kick = kick;
        Started = true;
        _seenAvail = LastAvail;
        _signalledUsedValid = false;
        if (_used != null)
        {
            ushort guestUsed = Volatile.Read(ref *(ushort*)(_used + 2));
            if (guestUsed != UsedIndex)
            {
                string note = $"vring {Index}: base {LastAvail} but used index {guestUsed}; resynchronised";
                LastAvail = UsedIndex = _seenAvail = guestUsed;
                return note;
            }
        }
        return null;
    }

    /// <summary>Stops the ring (GET_VRING_BASE) and returns where the next start must resume.</summary>
    public ushort Stop()
    {
        Started = false;
        Kick?.Dispose();
        Kick = null;
        Call?.Dispose();
        Call = null;
        return LastAvail;
    }

    public void SetCall(FileDescriptor? call)
    {
        Call?.Dispose();
        Call = call;
        _signalledUsedValid = false;
    }

    public void SetErr(FileDescriptor? err)
    {
        Err?.Dispose();
        Err = err;
    }

    /// <summary>Forgets everything (disconnect, RESET_OWNER): closes descriptors, clears errors.</summary>
    public void Reset()
    {
        Stop();
        SetErr(null);
        Size = 0;
        HasAddresses = false;
        _desc = _avail = _used = null;
        LastAvail = UsedIndex = 0;
        Enabled = false;
        EventIdx = IndirectAllowed = false;
        BrokenReason = null;
    }

    /// <summary>Clears a guest error so a restarted ring can run again.</summary>
    public void ClearBroken() => BrokenReason = null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort AvailIdx() => Volatile.Read(ref *(ushort*)(_avail + 2));
}
