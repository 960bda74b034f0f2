// A state directory on a file system the test controls and removes: a small tmpfs that can be
// filled to the last byte, or a bind mount that can be made read-only. Root ignores file modes,
// so only a mount shows what a full or read-only disk does to mvtapd.
using Mvtap.Cli.Demo;

namespace Mvtap.Daemon.Tests;

internal sealed class StateDirMount : IDisposable
{
    private readonly string? _bindSource;

    private StateDirMount(string path, string? bindSource)
    {
        Path = path;
        _bindSource = bindSource;
    }

    public string Path { get; }
    private string Filler => System.IO.Path.Combine(Path, "filler");

    /// <summary>A tmpfs of <paramref name="kib"/> KiB mounted on <paramref name="path"/> (created).</summary>
    public static StateDirMount SmallTmpfs(string path, int kib = 64)
    {
        Directory.CreateDirectory(path);
        Mount("-t", "tmpfs", "-o", $"size={kib}k,mode=0755", "tmpfs", path);
        return new StateDirMount(path, null);
    }

    /// <summary><paramref name="path"/> as a bind mount of a directory beside it, writable until made read-only.</summary>
    public static StateDirMount Bind(string path)
    {
        var source = path + ".source";
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(path);
        Mount("--bind", source, path);
        return new StateDirMount(path, source);
    }

    public void MakeReadOnly() => Mount("-o", "remount,bind,ro", Path);

    public void MakeWritable() => Mount("-o", "remount,bind,rw", Path);

    /// <summary>Writes a file until the file system has no byte left.</summary>
    public void Fill()
    {
        using var f = new FileStream(Filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 1);
        var block = new byte[512];
        try
        {
            while (true) f.Write(block);
        }
        catch (IOException) { /* ENOSPC: full */ }
    }

    public void Free() => File.Delete(Filler);

    private static void Mount(params string[] args)
    {
        var (status, output) = Shell.Run("mount", args);
        if (status != 0) throw new InvalidOperationException($"mount {string.Join(' ', args)}: {output.Trim()}");
    }

    public void Dispose()
    {
        // lazily, so a daemon that still holds a file open cannot keep the mount
        Shell.Run("umount", "-l", Path);
        if (_bindSource is not null) Shell.Run("rm", "-rf", _bindSource);
    }
}
