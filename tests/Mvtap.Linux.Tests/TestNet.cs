// Test topology helpers: throw-away network namespaces and unique interface names. The `ip`
// tool is used here only to set up and inspect topology; the library itself never shells out.
using System.Diagnostics;
using Mvtap.Core.Frames;

namespace Mvtap.Linux.Tests;

internal static class TestNet
{
    private static readonly Random Rng = new();

    /// <summary>A short random suffix so parallel test classes never collide (names stay ≤ 15 chars).</summary>
    public static string Suffix() { lock (Rng) return Rng.Next(0x100000, 0xFFFFFF).ToString("x6"); }

    public static string Ip(params string[] args) => Run("ip", args);

    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000)) { p.Kill(); throw new TimeoutException($"{file} {string.Join(' ', args)}"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {stderr}");
        return stdout;
    }

    /// <summary>A locally administered unicast MAC with a random tail.</summary>
    public static MacAddress RandomMac() { lock (Rng) return new MacAddress(0x0200_0000_0000UL | (ulong)Rng.NextInt64(1, 0xFF_FFFF_FFFF)); }

    /// <summary>An Ethernet frame of ethertype 0x88B5 carrying <paramref name="tag"/>, padded to 60 bytes.</summary>
    public static byte[] Frame(MacAddress dst, MacAddress src, uint tag, int length = 60)
    {
        var f = new byte[length];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        f[12] = 0x88; f[13] = 0xB5;
        BitConverter.TryWriteBytes(f.AsSpan(14), tag);
        return f;
    }

    /// <summary>Re-reads until <paramref name="done"/> holds or 15 s pass (a bound for failing, not a
    /// measure: on a loaded 2-core machine a datapath thread can wait seconds for a CPU); returns the last value either way.</summary>
    public static T WaitFor<T>(Func<T> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        T value = read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
            value = read();
        }
        return value;
    }

    public static bool IsTestFrame(ReadOnlySpan<byte> eth) => eth.Length >= 18 && eth[12] == 0x88 && eth[13] == 0xB5;

    public static uint Tag(ReadOnlySpan<byte> eth) => BitConverter.ToUInt32(eth[14..18]);
}

/// <summary>A network namespace made for one test class and removed on dispose.</summary>
public sealed class TestNamespace : IDisposable
{
    public string Name { get; } = "mvtl-" + TestNet.Suffix();

    public TestNamespace()
    {
        TestNet.Ip("netns", "add", Name);
        TestNet.Ip("-n", Name, "link", "set", "lo", "up");
    }

    public string Ip(params string[] args) => TestNet.Ip(["-n", Name, .. args]);

    public void Dispose()
    {
        // Deleting the namespace destroys every interface inside it.
        try { TestNet.Ip("netns", "del", Name); } catch (InvalidOperationException) { }
    }
}
