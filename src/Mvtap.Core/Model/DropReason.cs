// Why a frame was not delivered anywhere (design principle 5: nothing lost silently).
namespace Mvtap.Core.Model;

public enum DropReason
{
    /// <summary>Shorter than an Ethernet header.</summary>
    Malformed,
    /// <summary>A virtio-net header the kernel would refuse (spec 5.5).</summary>
    BadVirtioHeader,
    /// <summary>spoofchk on: the source MAC is not the endpoint's (design.md).</summary>
    SpoofedSource,
    /// <summary>Sent by an endpoint that is administratively down (spec 5.10).</summary>
    EndpointDown,
    /// <summary>The lower has no carrier or is down, so its endpoints have none (spec 2, 4.5).</summary>
    NoCarrier,
    /// <summary>Larger than MTU + 18 on a local forwarding path (spec 4.3).</summary>
    Mtu,
    /// <summary>Unicast to a passthru endpoint that is down (spec 3.3).</summary>
    PassthruDown,
    /// <summary>Consumed by a NODST source entry whose endpoints are all down (spec 3.5, Q4).</summary>
    NoDstConsumed,
    /// <summary>The broadcast queue was at bcqueuelen (spec 3.6; the kernel's lower rx_dropped).</summary>
    BroadcastQueueFull,
    /// <summary>The receiving endpoint's queue or ring was full (spec 5.9).</summary>
    QueueFull,
    /// <summary>The endpoint was deleted while the frame was on its way.</summary>
    EndpointGone,
    /// <summary>A multicast IPv4 fragment of a datagram not completed within 30 s (spec 3.8, ipfrag_time).</summary>
    ReassemblyTimeout,
    /// <summary>A fragment overlapping held data other than by repeating it: its datagram is discarded.</summary>
    ReassemblyOverlap,
    /// <summary>A fragment that only repeats data already held: dropped, its datagram kept.</summary>
    ReassemblyDuplicate,
    /// <summary>A fragment inconsistent with its datagram (past a known end, a last one ending before
    /// held data or elsewhere than an earlier last one, empty, mixed ECN): the datagram is discarded.</summary>
    ReassemblyInvalid,
    /// <summary>A datagram whose header and payload would exceed 65535 bytes: discarded.</summary>
    ReassemblyOversize,
    /// <summary>A fragment refused while reassembly held more than its memory limit (ipfrag_high_thresh).</summary>
    ReassemblyMemory,
    /// <summary>A fragment held by a datagram that more than 64 other fragments from its source passed
    /// (ipfrag_max_dist): the datagram starts over without it.</summary>
    ReassemblyTooFar,
    /// <summary>An attachment failed to take the frame (I/O error, no guest buffers).</summary>
    AttachmentError,
    /// <summary>Handling the frame raised an unexpected error (a bug in mvtap): the frame is
    /// dropped, the error logged, and forwarding goes on.</summary>
    InternalError,
    /// <summary>For a macvtap endpoint no guest is attached to (spec 5.10: the kernel hands such frames to
    /// the macvtap device's own stack; an mvtap endpoint has none, so they end here).</summary>
    NoGuest,
    /// <summary>Lost before mvtapd read it: the kernel found the receive ring of mvtapd's packet socket
    /// (or its buffer for frames larger than a ring slot) full, because the datapath thread fell behind
    /// (PACKET_STATISTICS tp_drops, read about once a second while frames flow).</summary>
    SocketOverrun,
}

public static class DropReasons
{
    public static readonly int Count = Enum.GetValues<DropReason>().Length;

    public static string Name(this DropReason r) => r switch
    {
        DropReason.Malformed => "malformed",
        DropReason.BadVirtioHeader => "bad_vnet_hdr",
        DropReason.SpoofedSource => "spoofed_source",
        DropReason.EndpointDown => "endpoint_down",
        DropReason.NoCarrier => "no_carrier",
        DropReason.Mtu => "mtu",
        DropReason.PassthruDown => "passthru_down",
        DropReason.NoDstConsumed => "nodst_consumed",
        DropReason.BroadcastQueueFull => "bc_queue_full",
        DropReason.QueueFull => "queue_full",
        DropReason.EndpointGone => "endpoint_gone",
        DropReason.AttachmentError => "attachment_error",
        DropReason.ReassemblyTimeout => "reasm_timeout",
        DropReason.ReassemblyOverlap => "reasm_overlap",
        DropReason.ReassemblyDuplicate => "reasm_duplicate",
        DropReason.ReassemblyInvalid => "reasm_invalid",
        DropReason.ReassemblyOversize => "reasm_oversize",
        DropReason.ReassemblyMemory => "reasm_memory",
        DropReason.ReassemblyTooFar => "reasm_too_far",
        DropReason.InternalError => "internal_error",
        DropReason.NoGuest => "no_guest",
        DropReason.SocketOverrun => "socket_overrun",
        _ => r.ToString(),
    };
}
