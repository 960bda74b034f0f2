// Loads and saves state.json. Saving writes a temporary file, fsyncs it, renames it over the
// old one and fsyncs the directory, so a crash leaves either the old or the new state. A save
// that fails (a full or read-only file system) leaves the old file as it was and no temporary
// file behind, and says why ("cannot save /var/lib/mvtap/state.json: No space left on device")
// with the errno, for the request that needed it to be refused. A file that cannot be read is
// never overwritten: mvtapd refuses to start and says why; so is one whose endpoint indexes are
// out of range or repeated (BadIndex).
using System.Runtime.InteropServices;
using System.Text.Json;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Daemon.State;

public sealed class StateFileException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class StateStore(string stateDir)
{
    // What the file holds since our last successful save: an unchanged state is not written again.
    private byte[]? _saved;

    public string Path { get; } = System.IO.Path.Combine(stateDir, "state.json");

    /// <summary>The saved state, or an empty one when there is no file yet.</summary>
    public DaemonState Load()
    {
        if (!File.Exists(Path)) return new DaemonState();
        byte[] bytes;
        try { bytes = File.ReadAllBytes(Path); }
        catch (Exception e) { throw new StateFileException($"cannot read {Path}: {e.Message}", e); }
        DaemonState? state;
        try { state = JsonSerializer.Deserialize(bytes, StateJsonContext.Default.DaemonState); }
        catch (JsonException e)
        {
            throw new StateFileException(
                $"{Path} is corrupt ({e.Message}); mvtapd will not start over it. Repair or move the file away; it was left as it is.", e);
        }
        if (state is null)
            throw new StateFileException($"{Path} holds no state (JSON null); it was left as it is.");
        // element nullability is not checked by the serializer: an entry that is JSON null is corrupt too
        if (state.Endpoints.Contains(null!))
            throw new StateFileException($"{Path} is corrupt (an endpoint entry is null); mvtapd will not start over it. Repair or move the file away; it was left as it is.");
        if (state.Version != DaemonState.CurrentVersion)
            throw new StateFileException($"{Path} has state version {state.Version}; this mvtapd reads version {DaemonState.CurrentVersion}.");
        if (BadIndex(state) is { } why)
            throw new StateFileException($"{Path} is corrupt ({why}); mvtapd will not start over it. Repair or move the file away; it was left as it is.");
        return state;
    }

    /// <summary>What is wrong with the file's indexes, or null. An endpoint's index is its
    /// ifindex for `link show` and what a restart keeps: 1 or more, below int.MaxValue (the next
    /// index must fit), never two endpoints with one; next_index is 1 or more. (mvtapd never
    /// writes another: such a file was edited or damaged, and restoring it would show two
    /// endpoints under one index, or wrap the next.)</summary>
    private static string? BadIndex(DaemonState state)
    {
        if (state.NextIndex < 1) return $"next_index {state.NextIndex} is not 1 or more";
        var seen = new HashSet<int>();
        foreach (var e in state.Endpoints)
        {
            if (e.Index < 1 || e.Index == int.MaxValue)
                return $"endpoint {Mvtap.Control.InterfaceNames.Printable(e.Name)} has index {e.Index}, outside 1..{int.MaxValue - 1}";
            if (!seen.Add(e.Index))
                return $"index {e.Index} is given to more than one endpoint";
        }
        return null;
    }

    /// <summary>Replaces the file with <paramref name="state"/>. Throws a MvtapException carrying the
    /// errno when the new state could not be put in place (the old file is then intact). Returns a
    /// warning when it was put in place but the directory could not be synced (a crash before the
    /// kernel writes the directory back could bring the old state back); null when all is on disk.</summary>
    public string? Save(DaemonState state)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.DaemonState);
        if (_saved is not null && _saved.AsSpan().SequenceEqual(bytes)) return null;
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        var tmp = Path + ".tmp";
        try
        {
            Directory.CreateDirectory(dir);
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a partial temporary file would keep a full disk full
            try { File.Delete(tmp); } catch (Exception) { /* not there, or the directory is read-only: nothing was written */ }
            int errno = ErrnoOf(e);
            throw new MvtapException((Errno)errno, $"cannot save {Path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        _saved = bytes;
        try
        {
            Fsync.Directory(dir);
            return null;
        }
        catch (SystemCallException e)
        {
            return $"{Path} was replaced, but syncing {dir} failed ({e.Message}): a crash now could bring the previous state back";
        }
    }

    // .NET keeps the errno of a failed file operation as the HResult of the IOException (or of the
    // one inside an UnauthorizedAccessException); EIO when there is none.
    private static int ErrnoOf(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x.HResult is > 0 and < 4096) return x.HResult;
        return (int)Errno.EIO;
    }
}
