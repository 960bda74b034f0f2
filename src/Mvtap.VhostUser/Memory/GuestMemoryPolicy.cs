// Which guest memory a vhost-user backend agrees to map (an endpoint's `guestmem` setting).
// Touching a mapped page that its file no longer has kills the whole daemon with SIGBUS, and
// the frontend (the VMM process, run by the endpoint's owner) can shrink any file it shares
// unless the file is sealed against shrinking (F_SEAL_SHRINK).
namespace Mvtap.VhostUser.Memory;

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

public static class GuestMemoryPolicyNames
{
    /// <summary>"sealed" or "any", as `guestmem` takes and `link show -d` prints it.</summary>
    public static string Name(this GuestMemoryPolicy policy) => policy == GuestMemoryPolicy.Any ? "any" : "sealed";

    public static bool TryParse(string? name, out GuestMemoryPolicy policy)
    {
        policy = name == "any" ? GuestMemoryPolicy.Any : GuestMemoryPolicy.Sealed;
        return name is "sealed" or "any";
    }
}
