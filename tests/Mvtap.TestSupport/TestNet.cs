// Test topology helpers: unique interface and namespace names, random MACs, tagged test frames,
// `ip` for setting up and inspecting topology (the library itself never shells out) and the
// bounded wait for an event that tests of every layer use.
using Mvtap.Core.Frames;

namespace Mvtap.TestSupport;

public static class TestNet
{
    private static readonly Random Rng = new();

    /// <summary>A short random suffix so parallel test classes never collide (names stay ≤ 15 chars).</summary>
    public static string Suffix() { lock (Rng) return Rng.Next(0x100000, 0xFFFFFF).ToString("x6"); }

    public static string Ip(params string[] args) => Run("ip", args);

    /// <summary>Runs a command that must succeed within 30 s; returns its standard output.</summary>
    public static string Run(string file, params string[] args)
    {
        var (status, stdout, stderr) = Sh.Capture(null, null, 30, file, args);
        if (status == -1) throw new TimeoutException($"{file} {string.Join(' ', args)}");
        if (status != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {status}: {stderr}");
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

    /// <summary>Re-reads until <paramref name="done"/> holds or <paramref name="seconds"/> pass (a bound for
    /// failing, not a measure: on a loaded 2-core machine a datapath thread can wait seconds for a CPU);
    /// returns the last value either way.</summary>
    public static T WaitFor<T>(Func<T> read, Func<T, bool> done, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T value = read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
            value = read();
        }
        return value;
    }

    /// <summary>Waits (bounded) for a condition that an event outside the test makes true; false if it never did.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (condition()) return true;
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(100);
        }
    }

    public static bool IsTestFrame(ReadOnlySpan<byte> eth) => eth.Length >= 18 && eth[12] == 0x88 && eth[13] == 0xB5;

    public static uint Tag(ReadOnlySpan<byte> eth) => BitConverter.ToUInt32(eth[14..18]);
}
