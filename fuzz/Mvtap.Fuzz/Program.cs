// Entry point of the fuzz harness. `Mvtap.Fuzz --list` prints the targets, one a line;
// `Mvtap.Fuzz TARGET` runs TARGET under AFL++ (SharpFuzz's out-of-process runner: the child that
// runs the target is restarted after a crash); `Mvtap.Fuzz --replay TARGET FILE...` runs the
// target once per file without AFL and reports what threw, for reproducing a finding;
// `--instrument TARGET` names the assemblies fuzz/run.sh instruments for it.
using SharpFuzz;

namespace Mvtap.Fuzz;

public static class Program
{
    /// <summary>Inputs larger than this are cut: every target's interesting inputs are far smaller.</summary>
    public const int MaxInput = 1 << 20;

    public static int Main(string[] args)
    {
        if (args is ["--list"])
        {
            foreach (var t in FuzzTargets.All) Console.WriteLine(t.Name);
            return 0;
        }
        if (args is ["--instrument", var which] && FuzzTargets.Find(which) is { } instrumented)
        {
            foreach (var a in instrumented.Instrument) Console.WriteLine(a);
            return 0;
        }
        if (args is ["--replay", var name, .. var files] && FuzzTargets.Find(name) is { } replayed)
            return Replay(replayed, files);
        if (args is [var target] && FuzzTargets.Find(target) is { } fuzzed)
        {
            Fuzzer.OutOfProcess.Run(stream => fuzzed.Run(ReadInput(stream)));
            return 0;
        }
        Console.Error.WriteLine("usage: Mvtap.Fuzz --list | TARGET | --instrument TARGET | --replay TARGET FILE...");
        return 2;
    }

    private static byte[] ReadInput(Stream stream)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while (copy.Length < MaxInput && (n = stream.Read(buffer, 0, buffer.Length)) > 0) copy.Write(buffer, 0, n);
        var bytes = copy.ToArray();
        return bytes.Length > MaxInput ? bytes[..MaxInput] : bytes;
    }

    private static int Replay(FuzzTarget target, string[] files)
    {
        int failed = 0;
        foreach (var f in files)
        {
            try { target.Run(File.ReadAllBytes(f)); }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"{f}: {e}");
            }
        }
        Console.WriteLine($"{files.Length - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
