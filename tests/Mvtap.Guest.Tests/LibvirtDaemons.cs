// libvirt 9.0's daemons for the libvirt test: no systemd runs here, so virtlogd and libvirtd are
// started with -d when they do not answer, and only those started here are ended, by the pids
// their pidfiles name, on Dispose. One at a time in the test process (a lock), since a second
// test must not end daemons the first still uses.
using System.Diagnostics;

namespace Mvtap.Guest.Tests;

internal sealed class LibvirtDaemons : IDisposable
{
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);
    private readonly List<(string Name, int Pid)> _started = [];

    public LibvirtDaemons()
    {
        OneAtATime.Wait();
        try
        {
            if (!File.Exists("/run/libvirt/virtlogd-sock") || !Answers("virtlogd")) Start("virtlogd", "/run/virtlogd.pid");
            if (!Answers("libvirtd")) Start("libvirtd", "/run/libvirtd.pid");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (Sh.Try("virsh", "-c", "qemu:///system", "version").Status != 0)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("libvirtd does not answer virsh within 60 s");
                Thread.Sleep(200);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static bool Answers(string daemon) => daemon == "libvirtd"
        ? Sh.Try("virsh", "-c", "qemu:///system", "version").Status == 0
        : Process.GetProcessesByName("virtlogd").Length > 0;

    private void Start(string daemon, string pidFile)
    {
        Sh.Must(daemon, "-d");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out _))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{daemon} -d wrote no {pidFile}");
            Thread.Sleep(100);
        }
        _started.Add((daemon, int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture)));
    }

    public void Dispose()
    {
        // libvirtd first: it talks to virtlogd
        foreach (var (name, pid) in Enumerable.Reverse(_started))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                if (p.ProcessName != name) continue; // the pid went and came back as something else
                Sh.Try("kill", "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (!p.WaitForExit(30_000)) p.Kill();
            }
            catch (ArgumentException) { /* already gone */ }
        }
        _started.Clear();
        OneAtATime.Release();
    }
}
