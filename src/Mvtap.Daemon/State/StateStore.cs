// Loads and saves state.json. Saving writes a temporary file, fsyncs it, renames it over the
// old one and fsyncs the directory, so a crash leaves either the old or the new state. A file
// that cannot be read is never overwritten: mvtapd refuses to start and says why.
using System.Text.Json;

namespace Mvtap.Daemon.State;

public sealed class StateFileException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class StateStore(string stateDir)
{
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
        return state;
    }

    public void Save(DaemonState state)
    {
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        var tmp = Path + ".tmp";
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.DaemonState);
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, Path, overwrite: true);
        FsyncDirectory(dir);
    }

    // A rename is durable only once the directory entry is on disk.
    private static void FsyncDirectory(string dir) => Mvtap.Linux.Interop.Fsync.Directory(dir);
}
