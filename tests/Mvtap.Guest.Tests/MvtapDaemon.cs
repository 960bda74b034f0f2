// The real mvtapd for one guest test: the shared MvtapdProcess with the lab's host namespace as
// the home of its lower devices and run and state directories inside the test's private
// directory, started and answering before the constructor returns. Killed on Dispose.
using System.Text.Json;

namespace Mvtap.Guest.Tests;

internal sealed class MvtapDaemon : MvtapdProcess
{
    public MvtapDaemon(GuestLab lab)
        : base(Path.Combine(lab.Dir, "run"), Path.Combine(lab.Dir, "state"), "--netns", lab.Host)
    {
        try { StartAndWait(); }
        catch { Dispose(); throw; }
    }

    /// <summary>A macvtap endpoint on the lab's lower, up; returns its index N (tapN).</summary>
    public int AddMacvtap(string name, string mode, string mac)
    {
        MustCli("link", "add", "link", GuestLab.Lower, "name", name, "type", "macvtap", "mode", mode, "address", mac);
        MustCli("link", "set", name, "up");
        using var json = JsonDocument.Parse(MustCli("-j", "link", "show", name));
        return json.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    /// <summary>Waits (bounded) for an attachment point of the daemon's to appear.</summary>
    public string WaitForFile(string path) =>
        TestNet.Eventually(() => File.Exists(path), TimeSpan.FromSeconds(30)) ? path
            : throw new TimeoutException($"{path} did not appear within 30 s:\nmvtapd:\n{Output}");
}
