// The soak (bench/soak/run.sh) for one minute, as CI runs it: mvtapd with two lowers and eight
// endpoints of every kind under TCP, floods, broadcast and multicast, churn, a lower deleted and
// re-created and a SIGKILL; the script's verdict says every frame was accounted for and the
// configuration is the acknowledged one. The script uses this build's mvtapd and mvtap.
using System.Diagnostics;
using System.Text;
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

public class SoakTests
{
    /// <summary>The checkout: the directory above the tests that holds Mvtap.slnx.</summary>
    private static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Mvtap.slnx"))) return d.FullName;
            throw new InvalidOperationException($"no Mvtap.slnx above {AppContext.BaseDirectory}");
        }
    }

    [Fact]
    public void A_one_minute_soak_accounts_for_every_frame_and_keeps_the_acknowledged_configuration()
    {
        Assert.True(Shell.IsRoot, "the soak needs root");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepoRoot, "bench", "soak", "run.sh"));
        psi.ArgumentList.Add("1");
        psi.Environment["MVTAPD_DLL"] = Path.Combine(AppContext.BaseDirectory, "mvtapd.dll");
        psi.Environment["MVTAP_DLL"] = Path.Combine(AppContext.BaseDirectory, "mvtap.dll");
        var output = new StringBuilder();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        // a bound for a hung script, not a measure of speed: the run itself takes a minute and its
        // set-up, restart and drain a few more on a loaded machine
        if (!p.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            MvtapdProcess.Kill(p.Id, 15); // SIGTERM: the script's trap ends what it started
            p.WaitForExit(TimeSpan.FromMinutes(2));
            Assert.Fail($"the soak did not finish:\n{output}");
        }
        p.WaitForExit();
        string text;
        lock (output) text = output.ToString();
        var verdict = text.Split('\n').LastOrDefault(l => l.StartsWith("verdict:", StringComparison.Ordinal));
        Assert.True(verdict is not null, $"no verdict line (exit {p.ExitCode}):\n{text}");
        Assert.True(verdict!.StartsWith("verdict: PASS", StringComparison.Ordinal) && p.ExitCode == 0, $"exit {p.ExitCode}, {verdict}\n{text}");
    }
}
