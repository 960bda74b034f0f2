// `mvtap doctor`'s checks of how mvtapd is run: the control socket's group (it must exist, or
// mvtapd does not start; without one only root may use mvtap) and systemd (Type=notify and the
// watchdog that restarts a hung mvtapd; without systemd nothing does).
using System.Text.RegularExpressions;

namespace Mvtap.Cli.Doctor;

internal static partial class ServiceChecks
{
    [GeneratedRegex(@"--socket-group[= ](\S+)")]
    private static partial Regex SocketGroupOption();

    [GeneratedRegex(@"^\s*WatchdogSec\s*=\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex WatchdogSetting();

    /// <summary>The group mvtapd is run with: given, else the unit file's --socket-group.</summary>
    public static string? ConfiguredGroup(DoctorSettings s)
    {
        if (s.SocketGroup is not null) return s.SocketGroup;
        if (File.Exists(s.UnitPath) && SocketGroupOption().Match(File.ReadAllText(s.UnitPath)) is { Success: true } m) return m.Groups[1].Value;
        return null;
    }

    public static DoctorFinding SocketGroup(DoctorSettings s)
    {
        const string check = "socket_group";
        string? group = ConfiguredGroup(s);
        if (group is null)
            return DoctorFinding.Warn(check, "no socket group: only root may use mvtap",
                "groupadd --system mvtap and run mvtapd --socket-group mvtap (the shipped unit does)");
        uint gid;
        try { gid = AccountLookup.GroupId(group); }
        catch (LinkOperationException)
        {
            return DoctorFinding.Error(check, $"group \"{group}\" does not exist: mvtapd --socket-group {group} refuses to start",
                $"groupadd --system {group}");
        }
        return DoctorFinding.Ok(check, $"group {AccountLookup.GroupName(gid)} ({gid}) may use the control socket");
    }

    public static DoctorFinding Systemd(DoctorSettings s)
    {
        const string check = "systemd";
        if (!Directory.Exists(s.SystemdRunDir))
            return DoctorFinding.Warn(check, $"systemd is not the init system (no {s.SystemdRunDir}): nothing restarts mvtapd if it stops or hangs",
                "run mvtapd under your supervisor with restart on failure; on a systemd host install dist/systemd/mvtapd.service");
        if (!File.Exists(s.UnitPath))
            return DoctorFinding.Warn(check, $"systemd runs, but {s.UnitPath} is not installed",
                "install.sh (or copy dist/systemd/mvtapd.service there) and systemctl enable --now mvtapd");
        if (WatchdogSetting().Match(File.ReadAllText(s.UnitPath)) is not { Success: true } w || w.Groups[1].Value is "0" or "infinity")
            return DoctorFinding.Warn(check, $"{s.UnitPath} sets no WatchdogSec=: a hung datapath thread is not restarted",
                "add WatchdogSec=60 to [Service] (as dist/systemd/mvtapd.service has)");
        return DoctorFinding.Ok(check, $"systemd with {s.UnitPath}, watchdog {w.Groups[1].Value}");
    }
}
