// Which guest memory a macvtap's vhost-user backend agrees to map (an endpoint's `guestmem`
// setting, spelled "sealed" or "any" by LinkWords).
// Touching a mapped page that its file no longer has kills the whole daemon with SIGBUS, and
// the frontend (the VMM process, run by the endpoint's owner) can shrink any file it shares
// unless the file is sealed against shrinking (F_SEAL_SHRINK).
namespace Mvtap.Core.Model;

public enum GuestMemoryPolicy
{
    /// <summary>Only files sealed against shrinking, which no frontend can take a page from (the
    /// default; QEMU's memory-backend-memfd seals by default).</summary>
    Sealed,
    /// <summary>Any file, also one that can shrink (DPDK virtio-user, hugepage files, QEMU's
    /// memory-backend-file, memory-backend-memfd seal=off): its owner can make the daemon touch
    /// pages that are gone (SIGBUS), fatal unless the runtime lets the fault be caught.</summary>
    Any,
}
