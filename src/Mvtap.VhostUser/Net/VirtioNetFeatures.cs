// Feature bits this backend knows (virtio 1.x, include/uapi/linux/virtio_net.h and
// virtio_ring.h, plus the vhost-user protocol bits of spec 3.4) and the sets it offers.
namespace Mvtap.VhostUser.Net;

public static class VirtioNetFeatures
{
    public const ulong Csum = 1UL << 0;
    public const ulong GuestCsum = 1UL << 1;
    public const ulong GuestTso4 = 1UL << 7;
    public const ulong GuestTso6 = 1UL << 8;
    public const ulong GuestEcn = 1UL << 9;
    public const ulong GuestUfo = 1UL << 10;
    public const ulong HostTso4 = 1UL << 11;
    public const ulong HostTso6 = 1UL << 12;
    public const ulong HostEcn = 1UL << 13;
    public const ulong HostUfo = 1UL << 14;
    public const ulong MrgRxbuf = 1UL << 15;
    public const ulong Mq = 1UL << 22;
    public const ulong AnyLayout = 1UL << 27;
    public const ulong IndirectDesc = 1UL << 28;
    public const ulong EventIdx = 1UL << 29;
    /// <summary>vhost-user's own bit: GET/SET_PROTOCOL_FEATURES exist and rings start disabled.</summary>
    public const ulong ProtocolFeatures = 1UL << 30;
    public const ulong Version1 = 1UL << 32;

    /// <summary>What the backend offers. Keep it stable across restarts: QEMU refuses a
    /// reconnecting backend that offers less than the guest acked.</summary>
    public const ulong Offered = Csum | GuestCsum | GuestTso4 | GuestTso6 | HostTso4 | HostTso6
        | MrgRxbuf | Mq | AnyLayout | IndirectDesc | EventIdx | ProtocolFeatures | Version1;
}

public static class VhostUserProtocolFeatures
{
    public const ulong Mq = 1UL << 0;
    public const ulong ReplyAck = 1UL << 3;
    public const ulong Status = 1UL << 16;

    /// <summary>Never offer a bit that is not implemented: QEMU then uses it (spec 3.4).</summary>
    public const ulong Offered = Mq | ReplyAck | Status;
}
