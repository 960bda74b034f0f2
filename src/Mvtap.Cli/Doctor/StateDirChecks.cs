// `mvtap doctor`'s checks of where mvtapd keeps state.json: the directory exists (or can be made),
// belongs to root and only root may write it (anyone who can write it chooses the endpoints mvtapd
// restores), a file can really be written, synced and removed there (a read-only mount cannot),
// and its file system has room for the next save.
using Mvtap.Linux.Interop;

namespace Mvtap.Cli.Doctor;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class StateDirChecks
{
    private const string Fix = "give mvtapd --state-dir on a writable local file system (the unit's StateDirectory= is /var/lib/mvtap)";

    public static DoctorFinding Permissions(DoctorSettings s)
    {
        const string check = "state_dir";
        string dir = s.StateDir;
        if (!Directory.Exists(dir))
        {
            string? parent = Path.GetDirectoryName(Path.GetFullPath(dir));
            return parent is not null && Directory.Exists(parent)
                ? Probe(check, parent, $"{dir} does not exist yet (mvtapd creates it in {parent})")
                : DoctorFinding.Error(check, $"{dir} does not exist, nor does its parent", $"mkdir -p -m 0755 {dir}");
        }
        var mode = File.GetUnixFileMode(dir);
        if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            return DoctorFinding.Error(check, $"{dir} is writable by {((mode & UnixFileMode.OtherWrite) != 0 ? "everyone" : "its group")}: whoever writes state.json chooses the endpoints mvtapd restores",
                $"chmod go-w {dir}");
        return Probe(check, dir, $"{dir} is writable by root only");
    }

    // writes, syncs and removes a file: what a save does, on the file system it does it on
    private static DoctorFinding Probe(string check, string dir, string okDetail)
    {
        string probe = Path.Combine(dir, $".mvtap-doctor.{Environment.ProcessId}");
        try
        {
            using (var f = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
            {
                f.WriteByte((byte)'\n');
                f.Flush(flushToDisk: true);
            }
            File.Delete(probe);
            return DoctorFinding.Ok(check, okDetail);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            string why = IsReadOnly(dir) ? $"{dir} is on a read-only file system" : $"cannot write in {dir} ({e.Message})";
            return DoctorFinding.Error(check, $"{why}: mvtapd cannot save endpoints, so every change is refused", Fix);
        }
    }

    private static bool IsReadOnly(string dir)
    {
        try { return StatVfs.IsReadOnly(dir); }
        catch (SystemCallException) { return false; }
    }

    public static DoctorFinding FreeSpace(DoctorSettings s)
    {
        const string check = "free_space";
        string dir = Directory.Exists(s.StateDir) ? s.StateDir : Path.GetDirectoryName(Path.GetFullPath(s.StateDir)) ?? "/";
        long free;
        try { free = StatVfs.FreeBytes(dir); }
        catch (SystemCallException e) { return DoctorFinding.Warn(check, $"cannot tell the free space of {dir} ({e.Message})", "check it with df"); }
        string amount = Size(free);
        if (free < s.MinimumFreeBytes)
            return DoctorFinding.Error(check, $"{amount} free under {dir}: the next save of state.json may not fit, and a change that cannot be saved is refused", $"free space on that file system or move --state-dir");
        if (free < s.LowFreeBytes)
            return DoctorFinding.Warn(check, $"only {amount} free under {dir}", "free space on that file system");
        return DoctorFinding.Ok(check, $"{amount} free under {dir}");
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        _ => $"{bytes / 1024.0:0.#} KiB",
    };
}
