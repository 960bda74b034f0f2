// One vhost-user session that stays up across inputs for the virtqueue target: a backend with
// one queue pair served on its own thread, REPLY_ACK negotiated and one 64 KiB memory region
// (guest physical 0, frontend virtual 0x10000: mixing the two up is caught) whose bytes each
// input writes directly. Restart re-creates both rings with the input's features, sizes,
// addresses and bases, as a frontend does after a reset, and waits for the backend's ack.
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;

namespace Mvtap.Fuzz.Support;

public sealed unsafe class GuestRingSession
{
    public const ulong UserBase = 0x10000;
    private static GuestRingSession? _current;

    private readonly VhostUserWire _wire = new();
    private readonly Thread _serving;
    private readonly nint _map;
    private string? _ended;

    private GuestRingSession()
    {
        Backend = new VhostUserNetBackend(maxQueuePairs: 1);
        var end = _wire.BackendEnd;
        _serving = new Thread(() => _ended = Backend.Serve(end)) { IsBackground = true, Name = "fuzz vhost-user session" };
        _serving.Start();
        _wire.SendU64(VhostUserRequest.SetProtocolFeatures, VhostUserProtocolFeatures.ReplyAck);
        var memory = GuestFiles.Memory(GuestFiles.MemorySize, seal: true);
        Span<byte> table = stackalloc byte[VhostUserPayload.MemoryTableHeader + MemoryRegionDescriptor.Length];
        table.Clear();
        table[0] = 1;
        new MemoryRegionDescriptor(0, GuestFiles.MemorySize, UserBase, 0).Write(table[VhostUserPayload.MemoryTableHeader..]);
        _wire.Send(VhostUserRequest.SetMemTable, table, needReply: true, [memory.Fd]);
        if (_wire.ReadReply(VhostUserRequest.SetMemTable) != 0) throw new InvalidOperationException("memory table refused");
        _map = Mmap.MapShared(memory, (ulong)GuestFiles.MemorySize);
        memory.Dispose();
    }

    public static GuestRingSession Current => _current ??= new GuestRingSession();

    public VhostUserNetBackend Backend { get; }

    /// <summary>The guest's memory, as the guest writes it.</summary>
    public Span<byte> Memory => new((void*)_map, (int)GuestFiles.MemorySize);

    public readonly record struct Ring(int Size, ushort Desc, ushort Avail, ushort Used, ushort Base, bool Enable);

    /// <summary>Stops both rings, negotiates <paramref name="features"/> and starts them as
    /// <paramref name="rx"/> (vring 0) and <paramref name="tx"/> (vring 1) say; ring addresses
    /// are offsets into the region (misaligned or out of range is the backend's to refuse).</summary>
    public void Restart(ulong features, Ring rx, Ring tx)
    {
        if (_ended is { } why) throw new InvalidOperationException($"the session ended: {why}");
        _wire.SendState(VhostUserRequest.GetVringBase, 0, 0);
        _wire.SendState(VhostUserRequest.GetVringBase, 1, 0);
        _wire.SendU64(VhostUserRequest.SetFeatures, features | VirtioNetFeatures.ProtocolFeatures);
        Setup(0, rx);
        Setup(1, tx);
        _wire.SendState(VhostUserRequest.SetVringEnable, 1, tx.Enable ? 1u : 0u, needReply: true);
        _wire.ReadReply(VhostUserRequest.GetVringBase);
        _wire.ReadReply(VhostUserRequest.GetVringBase);
        if (_wire.ReadReply(VhostUserRequest.SetVringEnable) != 0) throw new InvalidOperationException("SET_VRING_ENABLE refused");
    }

    private void Setup(uint index, Ring r)
    {
        _wire.SendState(VhostUserRequest.SetVringNum, index, (uint)r.Size);
        Span<byte> addr = stackalloc byte[VringAddress.Length];
        new VringAddress(index, 0, UserBase + r.Desc, UserBase + r.Used, UserBase + r.Avail, 0).Write(addr);
        _wire.Send(VhostUserRequest.SetVringAddr, addr);
        _wire.SendState(VhostUserRequest.SetVringBase, index, r.Base);
        _wire.SendU64(VhostUserRequest.SetVringKick, index | VhostUserPayload.VringNoFdFlag);
        if (index == 0) _wire.SendState(VhostUserRequest.SetVringEnable, index, r.Enable ? 1u : 0u);
    }
}
