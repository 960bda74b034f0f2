// The CNI plugin as a user gets it: `./mvtap cni install DIR` from the checkout, which publishes
// it once with NativeAOT and copies it in as DIR/mvtap. Done once per test run (the wrapper's
// own lock keeps concurrent builds apart); the directory goes when the test process ends.
namespace Mvtap.Cni.Tests;

internal static class InstalledPlugin
{
    private static readonly Lazy<string> Dir = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The directory holding the installed `mvtap` plugin.</summary>
    public static string Directory => Dir.Value;

    public static string Path => System.IO.Path.Combine(Directory, "mvtap");

    /// <summary>The checkout: the directory above the tests that holds Mvtap.slnx.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(System.IO.Path.Combine(d.FullName, "Mvtap.slnx"))) return d.FullName;
            throw new InvalidOperationException($"no Mvtap.slnx above {AppContext.BaseDirectory}");
        }
    }

    private static string Install()
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("mvtap-cni-bin-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { }
        };
        // NativeAOT under load takes minutes: a generous bound, never a threshold on speed
        Sh.MustWith(null, 1800, "bash", System.IO.Path.Combine(RepoRoot, "mvtap"), "cni", "install", dir);
        if (!File.Exists(System.IO.Path.Combine(dir, "mvtap"))) throw new InvalidOperationException($"mvtap cni install left no {dir}/mvtap");
        return dir;
    }
}
