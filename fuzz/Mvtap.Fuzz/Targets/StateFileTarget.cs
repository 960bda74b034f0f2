// state.json as mvtapd reads it at start: the StateStore's loader (StateFileException is its
// documented refusal: mvtapd then stops with a message), then LinkRegistry.Restore against sim
// lowers (an endpoint it cannot bring back is kept in the state, never fatal). The state the
// registry would save next must hold every endpoint of the file, each under its own index
// below the next one, and load again.
using System.Text.Json;
using Mvtap.Daemon.State;
using Mvtap.Fuzz.Support;

namespace Mvtap.Fuzz.Targets;

public static class StateFileTarget
{
    private static readonly string Dir = Directory.CreateTempSubdirectory("mvtap-fuzz-state-").FullName;
    private static readonly StateStore Store = new(Dir);

    static StateFileTarget() => AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(Dir, recursive: true);

    public static void Run(ReadOnlySpan<byte> data)
    {
        File.WriteAllBytes(Store.Path, data.ToArray());
        DaemonState state;
        try { state = Store.Load(); }
        catch (StateFileException) { return; }

        using var registry = SimRegistry.Create();
        registry.Restore(state);
        var next = registry.Snapshot();
        if (next.Endpoints.Count != state.Endpoints.Count)
            throw new InvalidOperationException($"restore kept {next.Endpoints.Count} of {state.Endpoints.Count} endpoints");
        if (next.Endpoints.Select(e => e.Index).Distinct().Count() != next.Endpoints.Count)
            throw new InvalidOperationException("restore kept two endpoints under one index");
        if (next.Endpoints.Count > 0 && next.NextIndex <= next.Endpoints.Max(e => e.Index))
            throw new InvalidOperationException($"next index {next.NextIndex} is not past every endpoint's");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(next, StateJsonContext.Default.DaemonState);
        var reloaded = JsonSerializer.Deserialize(bytes, StateJsonContext.Default.DaemonState);
        if (reloaded?.Endpoints.Count != next.Endpoints.Count) throw new InvalidOperationException("the saved state does not load again");
    }
}
