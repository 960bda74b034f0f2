// `mvtap doctor`'s checks of the kernel's facilities, each tried for real: an AF_PACKET socket
// with PACKET_VNET_HDR (every lower is read and written through one), /dev/net/tun (`mvtap run`
// and tap attachments) and file sealing (a vhost-user guest's memory is mapped only when sealed
// against shrinking, guestmem sealed).
using Mvtap.Linux.Interop;

namespace Mvtap.Cli.Doctor;

internal static class KernelChecks
{
    public static DoctorFinding PacketSocket(DoctorSettings s)
    {
        const string check = "af_packet";
        try
        {
            using var fd = Sockets.Open(s.PacketFamily, Sockets.SOCK_RAW, 0);
            Sockets.SetInt(fd, PacketAbi.SOL_PACKET, PacketAbi.PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)");
            return DoctorFinding.Ok(check, "AF_PACKET socket with PACKET_VNET_HDR");
        }
        catch (SystemCallException e)
        {
            return DoctorFinding.Error(check, $"cannot open an AF_PACKET socket with PACKET_VNET_HDR ({e.Message}): mvtapd cannot read or write any lower",
                e.Errno == 1 ? "run mvtapd as root (it needs CAP_NET_RAW and CAP_NET_ADMIN)"
                             : "use a kernel built with CONFIG_PACKET (modprobe af_packet)");
        }
    }

    public static DoctorFinding TunDevice(DoctorSettings s)
    {
        const string check = "tun";
        try
        {
            using var fd = FileIo.Open(s.TunDevice, FileIo.O_RDWR);
            return DoctorFinding.Ok(check, $"{s.TunDevice} opens");
        }
        catch (SystemCallException e)
        {
            return DoctorFinding.Warn(check, $"cannot open {s.TunDevice} ({e.Message}): `mvtap run` and tap attachments will not work; vhost-user, stream and macvlan endpoints do",
                $"modprobe tun; mkdir -p /dev/net && mknod {s.TunDevice} c 10 200");
        }
    }

    public static DoctorFinding Sealing(DoctorSettings s)
    {
        const string check = "memfd_seal";
        string what = s.SealProbe ?? "a memfd";
        try
        {
            using var fd = s.SealProbe is { } path
                ? FileIo.Open(path, FileIo.O_RDWR)
                : Mmap.MemfdCreate("mvtap-doctor", Mmap.MFD_CLOEXEC | Mmap.MFD_ALLOW_SEALING);
            if (Seals.Get(fd) < 0)
                return Unsealable(check, $"{what} cannot carry seals (F_GET_SEALS: EINVAL)");
            Seals.Add(fd, Seals.F_SEAL_SHRINK);
            if ((Seals.Get(fd) & Seals.F_SEAL_SHRINK) == 0)
                return Unsealable(check, $"{what} did not keep F_SEAL_SHRINK");
            return DoctorFinding.Ok(check, $"{what} seals against shrinking (guestmem sealed maps QEMU's memory-backend-memfd)");
        }
        catch (SystemCallException e)
        {
            return Unsealable(check, $"cannot seal {what} ({e.Message})");
        }
    }

    private static DoctorFinding Unsealable(string check, string why) =>
        DoctorFinding.Warn(check, $"{why}: vhost-user endpoints with guestmem sealed (the default) will refuse every guest's memory",
            "use a kernel with memfd sealing (CONFIG_MEMFD_CREATE, tmpfs); or set guestmem any on endpoints whose guests you trust");
}
